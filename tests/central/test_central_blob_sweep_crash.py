"""A trainer's voice note kept just before central is killed (-9), before its row
commits, is a blob no row names: ``central sweep-blobs`` removes it and nothing else,
and central, restarted, still serves every voice note and answer a row names. On
SQLite and PostgreSQL, central served by gunicorn as in production."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
import requests

from tests.appliance.test_sync_crash import BIN, Central
from tests.central.harness import central_call, free_port, make_central

PASSWORD = "correct horse battery"
OGG_KEPT = b"OggS" + b"kept answer " * 200
OGG_CUT = b"OggS" + b"note being kept when central died " * 100
POST_VOICE = b"OggS" + b"a question by voice " * 100
WORK = b"OggS" + b"a learner reads " * 100
ANSWER = b"OggS" + b"the mayor answers " * 100


def _seed(data_dir: Path, database_url: str) -> tuple[int, int]:
    """A post and the mayor's answer by voice, a learner's reading and a trainer's
    answer to it by voice; (the post's id, the answer's id)."""
    from central import coaching, service
    from central.coaching import TrainerGroup, Work
    from central.db import database
    from central.models import Post

    app = make_central(data_dir, database_url)
    for data in (POST_VOICE, WORK):
        sha = hashlib.sha256(data).hexdigest()
        path = service.blob_path(data_dir, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def seed():
        site, _code = service.create_site("nioro", "Espace nioro", "Kayes", ["Nioro"])
        service.create_admin("awa", PASSWORD, "regional", "Kayes")
        ami = service.create_admin("ami", PASSWORD, "trainer", "Kayes")
        post = Post.create(
            site=site, uuid="p1", body="", voice_sha256=hashlib.sha256(POST_VOICE).hexdigest()
        )
        answer = service.record_answer(post, "Le maire", "", None, voice=ANSWER, data_dir=data_dir)
        work = Work.create(
            site=site,
            uuid="w1",
            learner="x" * 64,
            course="alpha",
            lesson="lire",
            exercise=0,
            type="read_aloud",
            group_ref="g1",
            media_sha256=hashlib.sha256(WORK).hexdigest(),
            mime="audio/ogg",
            size=len(WORK),
            created_at="2026-11-30T08:00:00Z",
        )
        TrainerGroup.create(admin=ami, site=site, group_ref="g1")
        coaching.answer(ami, work, 2, OGG_KEPT, data_dir)
        return post.id, answer.id

    try:
        return central_call(app, seed)
    finally:
        database.close()


def _login(url: str, username: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'name="csrf" value="([^"]+)"', s.get(url + "/login").text).group(1)
    r = s.post(
        url + "/login",
        data={"username": username, "password": PASSWORD, "csrf": token},
        allow_redirects=False,
    )
    assert r.status_code == 302
    return s


def _answer(s: requests.Session, url: str) -> requests.Response:
    token = re.search(r'name="csrf" value="([^"]+)"', s.get(url + "/coaching").text).group(1)
    return s.post(
        f"{url}/coaching/work/w1/answer",
        data={"csrf": token, "mark": "3"},
        files={"voice": ("note.ogg", OGG_CUT, "audio/ogg")},
        allow_redirects=False,
        timeout=60,
    )


def _files(data_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(data_dir)): p.read_bytes()
        for folder in ("blobs", "files")
        for p in sorted((data_dir / folder).rglob("*"))
        if p.is_file()
    }


def _sweep(data_dir: Path, database_url: str, *args: str) -> list[str]:
    r = subprocess.run(
        [
            str(BIN / "central"),
            "sweep-blobs",
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _feedback_clips(data_dir: Path, database_url: str) -> dict[str, bytes]:
    """Every trainer's note as central serves it to the boxes (the catalogue file)."""
    from central import service
    from central.coaching import Feedback
    from central.db import database

    app = make_central(data_dir, database_url)

    def clips():
        out = {}
        for (sha,) in Feedback.select(Feedback.clip_sha256).tuples():
            message, tail = service.file_piece(data_dir, {"sha": sha, "off": 0, "len": 1 << 20})
            assert message["size"] == len(tail)
            out[sha] = tail
        return out

    try:
        return central_call(app, clips)
    finally:
        database.close()


@pytest.mark.slow
def test_a_trainers_note_cut_by_kill_9_is_swept_and_nothing_else(
    tmp_path, database_url, monkeypatch
):
    data_dir = tmp_path / "central"
    post_id, answer_id = _seed(data_dir, database_url)
    monkeypatch.setenv("CENTRAL_DATABASE_URL", database_url)  # what Central serves
    cut = hashlib.sha256(OGG_CUT).hexdigest()
    orphan = f"blobs/{cut[:2]}/{cut}"
    central = Central(data_dir, free_port())
    url = f"http://127.0.0.1:{central.port}"
    central.start(crash_at="central:coaching:blob")
    try:
        with pytest.raises(requests.ConnectionError):
            _answer(_login(url, "ami"), url)  # killed before it answered
    finally:
        central.stop()
    before = _files(data_dir)
    assert before[orphan] == OGG_CUT  # whole, and no row, no catalogue file names it
    assert f"files/{cut}" not in before
    kept = hashlib.sha256(OGG_KEPT).hexdigest()
    assert _feedback_clips(data_dir, database_url) == {kept: OGG_KEPT}

    # a week's grace keeps it (the note was just kept); a dry run removes nothing
    assert _sweep(data_dir, database_url)[-1].startswith("would remove 0 files, 0 bytes")
    lines = _sweep(data_dir, database_url, "--grace-days", "0")
    assert lines == [
        f"would remove {orphan}\t{len(OGG_CUT)} bytes\tunreferenced blob",
        f"would remove 1 files, {len(OGG_CUT)} bytes (dry run: --delete removes them)",
    ]
    assert _files(data_dir) == before
    lines = _sweep(data_dir, database_url, "--delete", "--grace-days", "0")
    assert lines == [
        f"removed {orphan}\t{len(OGG_CUT)} bytes\tunreferenced blob",
        f"removed 1 files, {len(OGG_CUT)} bytes",
    ]
    assert _files(data_dir) == {k: v for k, v in before.items() if k != orphan}

    central.start()
    try:
        awa = _login(url, "awa")
        assert awa.get(f"{url}/board/{post_id}/voice").content == POST_VOICE
        assert awa.get(f"{url}/answers/{answer_id}/voice").content == ANSWER
        ami = _login(url, "ami")
        assert ami.get(f"{url}/coaching/work/w1").content == WORK
        assert _answer(ami, url).status_code == 302  # the trainer records it again
    finally:
        central.stop()
    assert _feedback_clips(data_dir, database_url) == {kept: OGG_KEPT, cut: OGG_CUT}
    assert _sweep(data_dir, database_url, "--delete", "--grace-days", "0")[-1] == (
        "removed 0 files, 0 bytes"
    )
