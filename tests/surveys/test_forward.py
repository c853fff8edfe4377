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
