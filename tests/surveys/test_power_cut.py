"""kill -9 at each step of storing a submission: no row, no event, and once swept no
file of it left; the phone's retry then stores it whole."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid

import pytest

from .xlsforms import JPEG, submission_xml

WRITER = """
import os, signal, sys
from appliance import db
from surveys import submissions

data_dir, stage, xml_path, photo_path = sys.argv[1:5]
db.open_database(data_dir)

def die(at):
    if at == stage:
        os.kill(os.getpid(), signal.SIGKILL)

submissions._checkpoint = die
with open(xml_path, "rb") as xml, open(photo_path, "rb") as photo:
    submissions.store(data_dir, xml.read(),
                      [submissions.Attachment("photo.jpg", "image/jpeg", photo)])
"""


def _files(data_dir):
    blobs = data_dir / "blobs"
    return sorted(p.name for p in blobs.rglob("*") if p.is_file()) if blobs.is_dir() else []


@pytest.mark.parametrize("stage", ["journal", "blobs", "rows"])
def test_kill_9_mid_submission_leaves_nothing_and_the_retry_stores_it(
    app, db, form_file, tmp_path, stage
):
    from surveys import forms, submissions

    data_dir = app.config["SITE"].data_dir
    forms.import_xlsform(data_dir, form_file)
    before = _files(data_dir)  # the form's media
    instance = f"uuid:{uuid.uuid4()}"
    xml = submission_xml(instance=instance)
    (tmp_path / "s.xml").write_bytes(xml)
    (tmp_path / "photo.jpg").write_bytes(JPEG)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            WRITER,
            str(data_dir),
            stage,
            str(tmp_path / "s.xml"),
            str(tmp_path / "photo.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert submissions.instance(instance) is None
    kinds = [r[0] for r in db.execute_sql("SELECT kind FROM outbox")]
    assert not [k for k in kinds if k.startswith("survey.")]
    assert list(submissions.staging_dir(data_dir).glob("*.journal"))  # what the sweep reads

    submissions.sweep(data_dir)
    assert _files(data_dir) == before  # no orphan: the photo and the XML are gone
    assert not list(submissions.staging_dir(data_dir).glob("*.journal"))

    with open(tmp_path / "photo.jpg", "rb") as photo:
        result = submissions.store(
            data_dir, xml, [submissions.Attachment("photo.jpg", "image/jpeg", photo)]
        )
    assert result.status == 201
    assert [a["name"] for a in submissions.instance(instance)["attachments"]] == ["photo.jpg"]
    assert len(_files(data_dir)) == len(before) + 2


def test_the_sweep_leaves_a_live_writers_journal_and_shared_blobs(app, db, form_file):
    from surveys import forms, submissions

    data_dir = app.config["SITE"].data_dir
    forms.import_xlsform(data_dir, form_file)
    journal = submissions._Journal(data_dir)  # held locked, as a live writer's
    try:
        media = forms.media_of("menage")[0]["sha256"]
        journal.note(media)  # a blob the form's media row refers to
        assert submissions.sweep(data_dir) == 0
        assert journal.path.exists()
    finally:
        journal.close()
    journal = submissions._Journal(data_dir)
    journal.note(media)
    import os

    os.close(journal.fd)  # its writer died
    assert submissions.sweep(data_dir) == 0  # referenced: kept
    assert _files(data_dir)


WEB_WRITER = """
import io, os, signal, sys
from appliance import create_app
from surveys import submissions
from tests.support import make_site

tmp, xml_path = sys.argv[1:3]
app = create_app({"SITE": make_site(__import__("pathlib").Path(tmp)), "SITE_DIR": tmp,
                  "TESTING": True, "SECRET_KEY": "test-secret"})
submissions._checkpoint = lambda at: at == "blobs" and os.kill(os.getpid(), signal.SIGKILL)
client = app.test_client()
page = client.get("/forms/menage/").get_data(as_text=True)
token = page.split('"csrf": "', 1)[1].split('"', 1)[0]
with open(xml_path, "rb") as xml:
    client.post("/forms/menage/submission", data={
        "xml_submission_file": (io.BytesIO(xml.read()), "xml_submission_file", "text/xml"),
        "photo.jpg": (io.BytesIO(b"\\xff\\xd8\\xff" + bytes(100)), "photo.jpg", "image/jpeg"),
        "csrf": token})
"""


def test_kill_9_mid_browser_submission_leaves_nothing(app, db, form_file, tmp_path):
    """The browser's POST (/forms) stores through the same steps: cut after the blobs,
    no row, and the sweep removes the files."""
    from pathlib import Path

    from surveys import forms, submissions

    data_dir = app.config["SITE"].data_dir
    forms.import_xlsform(data_dir, form_file)
    forms.set_public("menage", True)
    before = _files(data_dir)
    instance = f"uuid:{uuid.uuid4()}"
    (tmp_path / "s.xml").write_bytes(submission_xml(instance=instance))
    done = subprocess.run(
        [sys.executable, "-c", WEB_WRITER, str(tmp_path), str(tmp_path / "s.xml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert submissions.instance(instance) is None
    assert len(_files(data_dir)) == len(before) + 2  # the XML and the photo, unreferenced
    submissions.sweep(data_dir)
    assert _files(data_dir) == before
