"""A voice answer recorded on central survives a kill -9 (issue 15): central's server is
killed with SIGKILL once the recording is in the blob store but before its row is
committed, and once the row is committed but before the browser heard back. Restarted,
central holds either nothing but a whole blob (the admin sends again: one answer) or the
whole answer, its blob, its published file and its down event; never a torn file."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pytest
import requests

from tests.appliance.test_sync_crash import Central
from tests.central.harness import central_call, free_port, make_central

PASSWORD = "correct horse battery"
WEBM = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 300


def _seed(data_dir) -> int:
    from central import service
    from central.db import database
    from central.models import Post, Site

    app = make_central(data_dir)
    _site, _code = central_call(
        app, service.create_site, "nioro", "Espace nioro", "Kayes", ["Nioro"]
    )
    central_call(app, service.create_admin, "awa", PASSWORD, "regional", "Kayes")

    def add_post():
        site = Site.get(Site.slug == "nioro")
        return Post.create(
            site=site,
            uuid="p-crash",
            code="AB12CD",
            kind="question",
            theme="water",
            commune="Nioro",
            body="Le forage ?",
            created_at="2026-11-30T08:00:00Z",
        ).id

    post_id = central_call(app, add_post)
    database.close()
    return post_id


def _session(url: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', s.get(url + "/login").text).group(1)
    r = s.post(
        url + "/login",
        data={"username": "awa", "password": PASSWORD, "csrf": token},
        allow_redirects=False,
    )
    assert r.status_code == 302
    return s, token


def _send(s: requests.Session, url: str, post_id: int) -> requests.Response:
    page = s.get(f"{url}/board/{post_id}").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return s.post(
        f"{url}/board/{post_id}",
        allow_redirects=False,
        timeout=60,
        data={"csrf": token, "official_name": "Le maire", "body": ""},
        files={"voice": ("answer.webm", WEBM, "audio/webm")},
    )


def _state(data_dir):
    con = sqlite3.connect(data_dir / "central.sqlite3")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        answers = con.execute("SELECT voice_sha256, voice_bytes FROM answer").fetchall()
        downs = [
            json.loads(p)
            for (p,) in con.execute("SELECT payload FROM down_event WHERE kind = 'answer.created'")
        ]
        files = con.execute("SELECT sha256, size FROM file_entry").fetchall()
        return answers, downs, files
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["central:answer:blob", "central:answer:committed"])
def test_a_voice_answer_survives_kill_9(tmp_path, point):
    data_dir = tmp_path / "central"
    post_id = _seed(data_dir)
    sha = hashlib.sha256(WEBM).hexdigest()
    blob = data_dir / "blobs" / sha[:2] / sha
    central = Central(data_dir, free_port())
    url = f"http://127.0.0.1:{central.port}"
    central.start(crash_at=point)
    try:
        s, _token = _session(url)
        with pytest.raises(requests.ConnectionError):
            _send(s, url, post_id)  # killed before it answered
    finally:
        central.stop()
    assert blob.read_bytes() == WEBM  # whole, never torn
    assert not list(blob.parent.glob("*.tmp"))
    answers, downs, files = _state(data_dir)
    if point == "central:answer:blob":
        assert (answers, downs, files) == ([], [], [])
    else:
        assert answers == [(sha, len(WEBM))] and files == [(sha, len(WEBM))]
        assert [d["voice_sha256"] for d in downs] == [sha]
        assert (data_dir / "files" / sha).read_bytes() == WEBM

    central.start()
    try:
        s, _token = _session(url)
        if point == "central:answer:blob":
            assert _send(s, url, post_id).status_code == 302  # the admin sends it again
        page = s.get(f"{url}/board/{post_id}").text
        assert page.count('class="answer-voice"') == 1
        r = s.get(f"{url}/answers/1/voice")
        assert r.status_code == 200 and r.content == WEBM
    finally:
        central.stop()
    answers, downs, files = _state(data_dir)
    assert answers == [(sha, len(WEBM))] and len(downs) == 1 and files == [(sha, len(WEBM))]
