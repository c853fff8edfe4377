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
