"""An answer reaches the basic phone that asked whichever process applied it: here
`espace sync now` and `espace sync import` (a USB stick), run by a technician from the
command line, with no app and no SMS code loaded. The worker's ``sms`` job finds the
answer and sends it, once, in the asker's language; killed at any point (before its
transaction commits, after it, after handing the SMS to gammu-smsd) the next run still
sends it, once. Real gammu-smsd on Gammu's dummy phone, real central on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sms import gammu, outgoing
from sms.models import Outgoing
from tests.sms.conftest import handled, sent_texts, wait_sent, wait_until

BIN = Path(sys.executable).parent
ASKER = "+22376000071"
QUESTION = "Ɲininkali: Nioro forage bɛna dilan tuma jumɛn?"
OFFICIAL = "Fatoumata Keïta"
BODY = "A bɛna dilan tɛnɛndon."  # short: one SMS with the code and the name


@pytest.fixture
def central(tmp_path):
    from tests.central.harness import CentralServer, make_central

    app = make_central(tmp_path / "central")
    with CentralServer(app) as server:
        server.app = app
        yield server


@pytest.fixture
def sms_site(sms_site, central):
    """The SMS site of tests/sms, with central's address (enrolled by ``enrolled``)."""
    sms_site["central"] = {"url": central.url}
    return sms_site


@pytest.fixture
def enrolled(box, central):
    from tests.central.harness import enrol_box

    enrol_box(central.app, central.url, box.config["DATA_DIR"])
    return central


def espace(*args: str, crash_at: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "espace"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "ESPACE_CRASH_AT": crash_at},
    )


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def ask_by_sms(phone, spool):
    """A Bambara question from a basic phone; its receipt sent and reconciled (so what
    gammu's ``sent/`` holds next is the answer only)."""
    from appliance.board.models import Post

    phone.inject(ASKER, QUESTION)
    wait_until(lambda: handled(1), "the question handled")
    wait_sent(spool, ASKER, 1)
    outgoing.reconcile(spool)
    return Post.get()


def answer_at_central(central, post_uuid: str) -> None:
    from central import service
    from central.models import Post as CentralPost
    from tests.central.harness import central_call

    cpost = central_call(central.app, lambda: CentralPost.get(CentralPost.uuid == post_uuid))
    central_call(central.app, service.record_answer, cpost, OFFICIAL, BODY, None)


def pull_by_sync_now(site_path: str, central, post) -> None:
    """`espace sync now` pushes the question; the official answers at central; `espace
    sync now` again pulls the answer onto the box's board."""
    ok(espace("sync", "now", "--site", site_path))
    answer_at_central(central, post.uuid)
    assert "pulled 1" in ok(espace("sync", "now", "--site", site_path))


def pull_by_usb(site_path: str, central, post, stick: Path) -> None:
    """The same through a USB stick: `espace sync export`, central imports it, the
    official answers, central imports it again (writing its response beside it), and
    `espace sync import` applies the answer."""
    from central.sneakernet import import_dir
    from tests.central.harness import central_call

    key, data_dir = central.app.config["CENTRAL_KEY"], central.app.config["DATA_DIR"]
    ok(espace("sync", "export", "--site", site_path, str(stick)))
    assert central_call(central.app, import_dir, stick, data_dir, key)["records"] == 1
    answer_at_central(central, post.uuid)
    central_call(central.app, import_dir, stick, data_dir, key)
    assert ", 1 records," in ok(espace("sync", "import", "--site", site_path, str(stick)))


def assert_answered_once(box, spool, post) -> None:
    """One SMS, in Bambara, with the code, the official and the answer; gammu-smsd's own
    counter says two sent (the receipt and the answer), and running the job again adds
    nothing."""
    from sms.service import worker_job

    wait_until(lambda: gammu.monitor(spool).get("Sent") == "2", "gammu-smsd sent it")
    worker_job(box)  # records it sent
    assert worker_job(box) == "nothing to do"
    assert spool.waiting() == 0 and sent_texts(spool) == {}
    (row,) = Outgoing.select().where(Outgoing.purpose == "answer")
    assert row.status == "sent" and row.ref == post.code
    assert post.code in row.text and "jaabi" in row.text  # "K7Q2MX jaabi, ... fe: ..."
    assert "Fatoumata Ke" in row.text and "tenendon" in row.text.replace("ɛ", "e")
    assert gammu.monitor(spool)["Sent"] == "2"


def the_answer_in_gammus_sent_folder(spool) -> str:
    """What gammu-smsd sent to the asker: one SMS (read before the job records it)."""
    (text,) = wait_sent(spool, ASKER, 1)
    assert "jaabi" in text and "Answer" not in text and "Réponse" not in text
    return text


def test_an_answer_pulled_by_espace_sync_now_reaches_the_asker(box, gammu_smsd, enrolled):
    from sms.service import worker_job

    phone, spool, _daemon = gammu_smsd
    post = ask_by_sms(phone, spool)
    pull_by_sync_now(box.config["SITE_PATH"], enrolled, post)
    assert "answered 1" in worker_job(box)  # the worker's sms job, next minute
    text = the_answer_in_gammus_sent_folder(spool)
    assert_answered_once(box, spool, post)
    assert Outgoing.get(Outgoing.purpose == "answer").text == text


def test_an_answer_imported_from_a_usb_stick_reaches_the_asker(box, gammu_smsd, enrolled, tmp_path):
    from sms.service import worker_job

    phone, spool, _daemon = gammu_smsd
    post = ask_by_sms(phone, spool)
    pull_by_usb(box.config["SITE_PATH"], enrolled, post, tmp_path / "stick")
    assert "answered 1" in worker_job(box)
    text = the_answer_in_gammus_sent_folder(spool)
    assert_answered_once(box, spool, post)
    assert Outgoing.get(Outgoing.purpose == "answer").text == text


@pytest.mark.parametrize(
    "crash_at",
    [
        "sms:answer-queued",  # inside the transaction: mark and messages rolled back
        "sms:answer-committed",  # both committed, nothing handed to gammu-smsd yet
        "sms:handed",  # the SMS file in gammu-smsd's outbox, not recorded
    ],
)
def test_kill_9_of_the_sms_job_never_loses_the_answer(box, gammu_smsd, enrolled, crash_at):
    phone, spool, _daemon = gammu_smsd
    site_path = box.config["SITE_PATH"]
    post = ask_by_sms(phone, spool)
    pull_by_sync_now(site_path, enrolled, post)

    killed = espace("sms", "tick", "--site", site_path, "--inbox-grace", "0", crash_at=crash_at)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert ASKER[1:] not in killed.stdout + killed.stderr
    queued = Outgoing.select().where(Outgoing.purpose == "answer").count()
    assert queued == (0 if crash_at == "sms:answer-queued" else 1)

    ok(espace("sms", "tick", "--site", site_path, "--inbox-grace", "0"))  # the next run
    assert_answered_once(box, spool, post)
