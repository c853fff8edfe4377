"""kill -9 of the box's SMS process between receiving and replying: the message was
stored (RunOnReceive died before handling it), handled (died before sending the
reply), or handed to gammu-smsd (died before recording it). The next run of the
worker's tick finishes the job: one post, one reply, sent once (gammu-smsd's own
count says so), and the database sound."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sms import gammu
from tests.sms.conftest import wait_until
from tests.support import require_program

BIN = Path(sys.executable).parent
NUMBER = "+22376000099"


def db_state(data_dir: Path) -> dict:
    con = sqlite3.connect(data_dir / "espace.sqlite3")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "inbound": one("SELECT count(*) FROM sms_inbound"),
            "new": one("SELECT count(*) FROM sms_inbound WHERE status = 'new'"),
            "posts": one("SELECT count(*) FROM board_post"),
            "events": one("SELECT count(*) FROM outbox WHERE kind = 'post.created'"),
            "replies": one("SELECT count(*) FROM sms_outgoing WHERE purpose = 'ack'"),
            "queued": one("SELECT count(*) FROM sms_outgoing WHERE status = 'queued'"),
            "sent": one("SELECT count(*) FROM sms_outgoing WHERE status = 'sent'"),
        }
    finally:
        con.close()


def tick(site_path: str) -> str:
    done = subprocess.run(
        [str(BIN / "espace"), "sms", "tick", "--site", site_path, "--inbox-grace", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ESPACE_CRASH_AT": ""},
    )
    assert done.returncode == 0, done.stderr
    assert NUMBER[1:] not in done.stdout + done.stderr
    return done.stdout


CRASHED = {
    # where RunOnReceive died -> what the database holds at that moment
    "sms:received": lambda s: s["inbound"] == 1 and s["new"] == 1,
    "sms:handled": lambda s: s["posts"] == 1 and s["queued"] == 1,
    "sms:handed": lambda s: s["posts"] == 1 and s["queued"] == 1,
}


@pytest.mark.parametrize("crash_at", list(CRASHED))
def test_kill_9_between_receiving_and_replying(box, tmp_path, crash_at):
    require_program("gammu-smsd", "gammu-smsd")
    from tests.sms.conftest import Phone

    site = box.config["SITE"]
    site_path = box.config["SITE_PATH"]
    data_dir = box.config["DATA_DIR"]
    spool = gammu.write_config(site, site_path, poll_seconds=1)
    daemon = gammu.Daemon(spool, env={**os.environ, "ESPACE_CRASH_AT": crash_at}).start()
    try:
        Phone(Path(site.sms.modem)).inject(NUMBER, "Ɲininkali: sira bɛna dilan wa?")
        wait_until(lambda: CRASHED[crash_at](db_state(data_dir)), f"the crash at {crash_at}")
        if crash_at == "sms:handed":
            # The database reads the same at "handled" and "handed": wait for the reply's
            # file itself, which gets out before the crash (seen racing in a full run).
            wait_until(lambda: spool.waiting() + len(spool.done()) == 1,
                       "the reply handed to gammu-smsd")
        if crash_at == "sms:received":
            assert len(list(spool.folder("inbox").iterdir())) == 1

        tick(site_path)  # the worker's next run
        wait_until(lambda: spool.waiting() == 0, "gammu-smsd's outbox empty")
        wait_until(lambda: gammu.monitor(spool).get("Sent") == "1", "gammu-smsd sent it")
        tick(site_path)
        tick(site_path)  # again: nothing more to do
        state = db_state(data_dir)
        assert state == {
            "inbound": 1,
            "new": 0,
            "posts": 1,
            "events": 1,
            "replies": 1,
            "queued": 0,
            "sent": 1,
        }
        assert gammu.monitor(spool)["Sent"] == "1"  # sent exactly once
        assert list(spool.folder("inbox").iterdir()) == []
    finally:
        daemon.close()
