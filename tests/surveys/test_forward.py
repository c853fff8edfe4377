"""Forwarding to an ODK Central / KoboToolbox server, tested against an OpenRosa
receiver this test starts: a cut stops the run and the next one resumes; a 409 (the
server already has it) is success; nothing is sent twice once acknowledged."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib

import pytest

from tests.central.harness import central_call, make_central
from tests.support import LiveServer


class Receiver:
    """An OpenRosa submission endpoint: 201 for a new instanceID, 409 for one it has;
    the request numbers in ``fail`` are answered 503 (the server is down)."""

    def __init__(self, have=(), fail=()) -> None:
        self.have = {i: [] for i in have}
        self.fail = set(fail)
        self.requests = 0

    def __call__(self, environ, start_response):
        self.requests += 1
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if self.requests in self.fail:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down"]
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + environ["CONTENT_TYPE"].encode() + b"\r\n\r\n" + body
        )
        parts = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_parts()}
        xml = parts.pop("submission.xml")
        instance = xml.split(b"<instanceID>")[1].split(b"</instanceID>")[0].decode()
        if instance in self.have:
            start_response("409 Conflict", [("Content-Type", "text/xml")])
            return [b"<OpenRosaResponse/>"]
        self.have[instance] = sorted(parts)
        start_response("201 Created", [("Content-Type", "text/xml"), ("X-OpenRosa-Version", "1.0")])
        return [b"<OpenRosaResponse/>"]


@pytest.fixture
def capp(tmp_path):
    return make_central(tmp_path / "central")


def _seed(capp, n: int) -> list[int]:
    from central import service
    from central.surveys import SurveyAttachment, SurveySubmission

    site, _code = service.create_site("nioro", "Espace Nioro", "Kayes", ["Nioro"])
    photo = b"\xff\xd8\xff" + b"photo"
    sha = hashlib.sha256(photo).hexdigest()
    path = service.blob_path(capp.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo)
    for i in range(n):
        SurveySubmission.create(
            site=site,
            instance_id=f"uuid:{i}",
            form_id="menage",
            version="1",
            received_at="2026-11-30T08:00:00+00:00",
            xml=f'<data id="menage"><meta><instanceID>uuid:{i}</instanceID></meta></data>',
        )
        SurveyAttachment.create(
            site=site,
            instance_id=f"uuid:{i}",
            name="photo.jpg",
            sha256=sha,
            mime="image/jpeg",
            size=len(photo),
        )
    return [site.id]


def test_a_cut_resumes_a_409_is_success_and_nothing_goes_twice(capp):
    from central.surveys_forward import forward

    sites = central_call(capp, _seed, capp, 5)
    receiver = Receiver(have={"uuid:3"}, fail={3})
    with LiveServer(receiver) as server:
        target = server.url + "/v1/key/TOKEN/projects/1"
        first = central_call(capp, forward, target, capp.config["DATA_DIR"], sites)
        assert (first.sent, first.stopped) == (2, "HTTP 503")
        second = central_call(capp, forward, target, capp.config["DATA_DIR"], sites)
        assert (second.sent, second.duplicates, second.stopped) == (2, 1, "")
        third = central_call(capp, forward, target, capp.config["DATA_DIR"], sites)
        assert (third.sent, third.duplicates) == (0, 0)
    assert sorted(receiver.have) == [f"uuid:{i}" for i in range(5)]
    assert receiver.have["uuid:0"] == ["photo.jpg"]
    assert receiver.requests == 6  # 2 + the 503 + 3 (one a 409), none after


def test_a_dead_link_stops_the_run_cleanly(capp):
    from central.surveys_forward import forward
    from tests.support import free_port

    sites = central_call(capp, _seed, capp, 2)
    run = central_call(
        capp, forward, f"http://127.0.0.1:{free_port()}", capp.config["DATA_DIR"], sites, 5.0
    )
    assert run.sent == 0 and run.stopped.startswith("link")


# --- each region's own server, on a schedule (central survey-forward --all) -----------

ODK_TOKEN = "Jv4!dP$k2Lq9wRzT7mNb0xYc5VhG8sFa3QeU6oIiKlMnBpCdEfGhJkLzXcVbNm12"
KOBO_TOKEN = "0123456789abcdef0123456789abcdef01234567"
WRONG = "ffffffffffffffffffffffffffffffffffffffff"
PASSWORD = "correct horse battery"


class TokenReceiver(Receiver):
    """The receiver behind a token: ODK Central's in the path (``/v1/key/T/projects/1``),
    KoboToolbox's in ``Authorization: Token T``; anything else is 403, as both do."""

    def __init__(self, token: str, kind: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.token, self.kind, self.seen = token, kind, []

    def __call__(self, environ, start_response):
        path, auth = environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION", "")
        self.seen.append((path, auth))
        good = (
            path == f"/v1/key/{self.token}/projects/1/submission"
            if self.kind == "odk"
            else path == "/submission" and auth == f"Token {self.token}"
        )
        if not good:
            self.requests += 1
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"bad token"]
        return super().__call__(environ, start_response)


def _two_regions(capp) -> None:
    from central import service
    from central.surveys import SurveySubmission

    _seed(capp, 4)  # Kayes: nioro, uuid:0..3
    other, _code = service.create_site("sikasso", "Espace Sikasso", "Sikasso", ["Sikasso"])
    for i in range(2):
        SurveySubmission.create(
            site=other,
            instance_id=f"uuid:s{i}",
            form_id="menage",
            version="1",
            received_at="2026-11-30T08:00:00+00:00",
            xml=f'<data id="menage"><meta><instanceID>uuid:s{i}</instanceID></meta></data>',
        )
    service.create_admin("awa", PASSWORD, "regional", "Kayes")
    service.create_admin("sekou", PASSWORD, "regional", "Sikasso")
    service.create_admin("nat", PASSWORD, "national", None)


def _configure(region: str, **fields):
    from central.models import Region
    from central.surveys_targets import configure

    return configure(Region.get(Region.name == region), **fields)


def _forward_all(capp, caplog) -> tuple[int, str]:
    from click.testing import CliRunner

    from central.cli import cli

    with caplog.at_level("DEBUG"):
        result = CliRunner().invoke(
            cli, ["survey-forward", "--all", "--data-dir", capp.config["DATA_DIR"]]
        )
    return result.exit_code, result.output


def _secrets_nowhere(capp, caplog, output: str) -> None:
    """Neither token is in what the CLI said, the logs, nor anywhere in the database
    but the targets' own token column."""
    from central.db import database

    def rows():
        out = []
        for (table,) in database.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall():
            if table == "survey_forward_target":
                continue
            out += [repr(r) for r in database.execute_sql(f"SELECT * FROM {table}")]  # noqa: S608
        for r in database.execute_sql("SELECT last_result FROM survey_forward_target"):
            out.append(r[0])
        return "\n".join(out)

    everything = output + caplog.text + central_call(capp, rows)
    for token in (ODK_TOKEN, KOBO_TOKEN, WRONG):
        assert token not in everything
        assert token[-12:] not in everything


def test_each_region_forwards_to_its_server_with_cuts_and_a_refused_token(capp, caplog):
    central_call(capp, _two_regions, capp)
    odk = TokenReceiver(ODK_TOKEN, "odk", have={"uuid:1"}, fail={3})
    kobo = TokenReceiver(KOBO_TOKEN, "kobo")
    with LiveServer(odk) as odk_server, LiveServer(kobo) as kobo_server:
        central_call(
            capp,
            _configure,
            "Kayes",
            kind="odk-central",
            server=odk_server.url + "/",
            project="1",
            token=ODK_TOKEN,
        )
        central_call(capp, _configure, "Sikasso", kind="kobo", server=kobo_server.url, token=WRONG)
        # First run: Kayes cut by a 503 after two; Sikasso's token refused.
        code, out = _forward_all(capp, caplog)
        assert code == 1
        lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
        assert lines["Kayes"].startswith(
            "forwarded 1, already there 1, refused 0; stopped: HTTP 503"
        )
        assert "refused the token (HTTP 403)" in lines["Sikasso"]
        # Next run: Kayes resumes; Sikasso still refused.
        code, out = _forward_all(capp, caplog)
        assert code == 1 and "Kayes: forwarded 2, already there 0" in out
        # The Sikasso admin types the right token: the next run sends both.
        central_call(
            capp, _configure, "Sikasso", kind="kobo", server=kobo_server.url, token=KOBO_TOKEN
        )
        code, out = _forward_all(capp, caplog)
        assert code == 0, out
        assert "Kayes: forwarded 0, already there 0" in out
        assert "Sikasso: forwarded 2, already there 0" in out
        # Nothing more to send: a no-op.
        code, out = _forward_all(capp, caplog)
        assert code == 0 and odk.requests == 5 and kobo.requests == 4
    assert sorted(odk.have) == ["uuid:0", "uuid:1", "uuid:2", "uuid:3"]
    assert sorted(kobo.have) == ["uuid:s0", "uuid:s1"]
    assert odk.have["uuid:0"] == ["photo.jpg"]
    _secrets_nowhere(capp, caplog, out)


def _login(capp, user: str):
    import re

    client = capp.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf": token})
    assert r.status_code == 302
    # The login started a new session: its token is on the pages it shows.
    page = client.get("/surveys/forwarding").get_data(as_text=True)
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_the_page_sets_a_region_server_and_never_shows_the_token(capp, caplog):
    central_call(capp, _two_regions, capp)
    awa, csrf = _login(capp, "awa")
    form = {
        "csrf": csrf,
        "kind": "odk-central",
        "server": "https://odk.example.org",
        "project": "3",
        "forms": "menage",
        "token": ODK_TOKEN,
        "enabled": "1",
    }
    # A token pasted into the address is refused, naming the field, and not echoed.
    bad = awa.post(
        "/surveys/forwarding",
        data={**form, "server": f"https://odk.example.org/v1/key/{ODK_TOKEN}/projects/3"},
    )
    assert bad.status_code == 400 and 'data-field="server"' in bad.get_data(as_text=True)
    assert ODK_TOKEN not in bad.get_data(as_text=True)
    assert awa.post("/surveys/forwarding", data={**form, "token": "a b"}).status_code == 400
    assert awa.post("/surveys/forwarding", data={**form, "project": ""}).status_code == 400
    assert awa.post("/surveys/forwarding", data={**form, "csrf": "no"}).status_code == 400
    r = awa.post("/surveys/forwarding", data=form)
    assert r.status_code == 303
    page = awa.get("/surveys/forwarding").get_data(as_text=True)
    assert ODK_TOKEN not in page and ODK_TOKEN[-12:] not in page
    assert "••••" + ODK_TOKEN[-4:] in page and "odk.example.org" in page
    assert "Sikasso" not in page  # a regional admin sees their own region only
    # Saved again with the token field empty: the token is kept.
    assert (
        awa.post("/surveys/forwarding", data={**form, "token": "", "project": "4"}).status_code
        == 303
    )

    def held():
        from central.surveys_targets import ForwardTarget

        t = ForwardTarget.get()
        return t.token, t.project, t.forms

    assert central_call(capp, held) == (ODK_TOKEN, "4", "menage")
    # A national viewer sees every region, changes nothing.
    nat, ncsrf = _login(capp, "nat")
    page = nat.get("/surveys/forwarding").get_data(as_text=True)
    assert "Kayes" in page and "Sikasso" in page and ODK_TOKEN not in page
    assert nat.post("/surveys/forwarding", data={**form, "csrf": ncsrf}).status_code == 403
    # The audit log says what changed, never the token.
    assert ODK_TOKEN not in nat.get("/audit.csv").get_data(as_text=True)
    _secrets_nowhere(capp, caplog, page)


def test_the_failure_shows_on_the_page_in_french(capp, caplog):
    from tests.support import free_port

    central_call(capp, _two_regions, capp)
    central_call(
        capp,
        _configure,
        "Kayes",
        kind="kobo",
        server=f"http://127.0.0.1:{free_port()}",
        token=KOBO_TOKEN,
    )
    code, out = _forward_all(capp, caplog)
    assert code == 1 and "Kayes: forwarded 0" in out and "stopped: link" in out
    awa, _csrf = _login(capp, "awa")
    page = awa.get("/surveys/forwarding").get_data(as_text=True)
    assert 'class="error"' in page and KOBO_TOKEN not in page


def test_the_timer_runs_every_region(tmp_path):
    import configparser
    import shutil
    import subprocess
    from pathlib import Path

    units = Path(__file__).parents[2] / "central" / "systemd"
    service = configparser.ConfigParser(strict=False)
    service.read(units / "central-survey-forward.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("central survey-forward --all")
    timer = configparser.ConfigParser(strict=False)
    timer.read(units / "central-survey-forward.timer")
    assert timer["Timer"]["OnCalendar"] == "hourly"
    if shutil.which("systemd-analyze"):
        r = subprocess.run(
            ["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr


def test_a_cut_in_the_middle_of_the_answer_stops_the_run_and_the_next_resumes(capp):
    """The server takes the submission but the link dies while its answer comes back
    (a garbled status line: http.client's HTTPException, not an OSError): the run stops
    cleanly, nothing is marked sent, and the next run sends it again (a 409 then)."""
    import socket
    import threading

    from central.surveys_forward import forward

    sites = central_call(capp, _seed, capp, 1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def garble() -> None:
        conn, _addr = listener.accept()
        with conn:
            data = b""
            while b"--\r\n" not in data[-64:]:  # the multipart body's last boundary
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.sendall(b"HTTP/1.1 2")  # cut mid-status

    thread = threading.Thread(target=garble)
    thread.start()
    try:
        run = central_call(
            capp,
            forward,
            f"http://127.0.0.1:{port}",
            capp.config["DATA_DIR"],
            sites,
            5.0,
            key="region:test",
        )
    finally:
        thread.join(10)
        listener.close()
    assert run.sent == 0 and run.stopped.startswith("link: BadStatusLine")
    receiver = Receiver(have={"uuid:0"})  # it did store it before the cut
    with LiveServer(receiver) as server:
        again = central_call(
            capp, forward, server.url, capp.config["DATA_DIR"], sites, key="region:test"
        )
    assert (again.sent, again.duplicates, again.stopped) == (0, 1, "")


def test_the_cli_with_a_token_url_keeps_the_token_out_of_its_tables(capp, caplog):
    from click.testing import CliRunner

    from central.cli import cli

    central_call(capp, _two_regions, capp)
    odk = TokenReceiver(ODK_TOKEN, "odk", fail={2})
    with LiveServer(odk) as server:
        args = [
            "survey-forward",
            f"{server.url}/v1/key/{ODK_TOKEN}/projects/1",
            "--region",
            "Kayes",
            "--data-dir",
            capp.config["DATA_DIR"],
        ]
        first = CliRunner().invoke(cli, args)
        assert first.exit_code == 1 and "forwarded 1" in first.output
        second = CliRunner().invoke(cli, args)
        assert second.exit_code == 0 and "forwarded 3" in second.output
        usage = CliRunner().invoke(cli, ["survey-forward", "--data-dir", "x"])
        assert usage.exit_code == 2 and "--all" in usage.output
    assert sorted(odk.have) == [f"uuid:{i}" for i in range(4)]
    _secrets_nowhere(capp, caplog, first.output + second.output)
