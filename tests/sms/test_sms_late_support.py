"""A basic phone that supports a question (or asks it again, merged as a duplicate)
after an official answered it gets that answer: the receipt says it is answered, the
latest answer follows, in the number's language, once per number and answer whichever
path sends it (the support's own handling, the answer's round by the worker's ``sms``
job, the job's look for numbers linked after the answer). Real gammu-smsd on Gammu's
dummy phone; the answer recorded through the board's rules, as the kiosk does."""

from __future__ import annotations

import uuid

import pytest

from appliance.board import rules as board
from appliance.board.models import Post
from sms import gammu, outgoing
from sms.models import Outgoing
from tests.sms.conftest import handled, sent_texts, wait_sent, wait_until

ASKER = "+22376000091"
SUPPORTER = "+22376000092"
QUESTION = "Ɲininkali: Nioro forage bɛna dilan tuma jumɛn?"
OFFICIAL = "Maire de Nioro"
BODY = "Lundi prochain."
SUPPORT = {"bm": "N fana {code}", "fr": "SOUTIEN {code}"}
# What tells the receipt and the answer apart in each language (the catalogues' words).
RECEIPT = {"bm": "jaabira ka", "fr": "déjà une réponse"}
ANSWER = {"bm": "jaabi, Maire de Nioro f", "fr": "Réponse à {code} de Maire de Nioro"}


def ask(phone, spool) -> Post:
    """The Bambara question from a basic phone; its receipt sent and recorded."""
    phone.inject(ASKER, QUESTION)
    wait_until(lambda: handled(1), "the question handled")
    wait_sent(spool, ASKER, 1)
    outgoing.reconcile(spool)
    return Post.get()


def answer_at_kiosk(box, post: Post, body: str = BODY) -> None:
    board.answer(
        post,
        official_id=None,
        official_name=OFFICIAL,
        body=body,
        voice_data=None,
        recorded_by="Awa",
        site=box.config["SITE"],
        data_dir=box.config["DATA_DIR"],
    )


def run_job(box, spool) -> str:
    """The worker's sms job, then what gammu-smsd sent recorded (it sends on its own
    loop: wait for its outbox to empty first)."""
    from sms.service import worker_job

    done = worker_job(box)
    wait_until(lambda: spool.waiting() == 0, "gammu-smsd's outbox empty")
    return done


def support(phone, spool, number: str, lang: str, post: Post, n_handled: int, n_sent: int):
    """``number`` texts support for ``post`` in ``lang``; RunOnReceive handles it and
    sends what it queued; returns the texts gammu-smsd sent to it (``n_sent`` of them)."""
    phone.inject(number, SUPPORT[lang].format(code=post.code))
    wait_until(lambda: handled(n_handled), "the support handled")
    texts = wait_sent(spool, number, n_sent)
    outgoing.reconcile(spool)
    return texts


def answer_rows(number_hash: str) -> int:
    return (
        Outgoing.select()
        .where((Outgoing.purpose == "answer") & (Outgoing.number_hash == number_hash))
        .count()
    )


def hash_of(number: str) -> str:
    from sms.rules import number_hash

    return number_hash(number)


@pytest.mark.parametrize("lang", ["bm", "fr"])
def test_a_number_supporting_an_answered_question_gets_the_answer_once(box, gammu_smsd, lang):
    phone, spool, _daemon = gammu_smsd
    post = ask(phone, spool)
    answer_at_kiosk(box, post)
    assert "answered 1" in run_job(box, spool)  # the asker's answer
    wait_sent(spool, ASKER, 1)
    outgoing.reconcile(spool)

    texts = support(phone, spool, SUPPORTER, lang, post, 2, 2)
    receipt = [t for t in texts if RECEIPT[lang] in t]
    answer = [t for t in texts if ANSWER[lang].format(code=post.code) in t]
    assert len(receipt) == 1 and post.code in receipt[0], texts
    assert len(answer) == 1 and BODY in answer[0], texts
    assert answer_rows(hash_of(SUPPORTER)) == 1

    # Supporting again sends the receipt, not the answer again; nor does the job.
    (again,) = support(phone, spool, SUPPORTER, lang, post, 3, 1)
    assert RECEIPT[lang] in again
    assert run_job(box, spool) == "nothing to do"
    assert sent_texts(spool) == {} and answer_rows(hash_of(SUPPORTER)) == 1
    assert answer_rows(hash_of(ASKER)) == 1
    assert gammu.monitor(spool)["Sent"] == "5"  # ack, answer; receipt, answer; receipt


@pytest.mark.parametrize("job_first", [True, False], ids=["job-then-support", "support-then-job"])
def test_a_number_that_supported_before_the_answer_gets_it_once(box, gammu_smsd, job_first):
    """Supported before the answer: the answer's round tells it. Texting support again
    after the answer (before or after the round ran) adds no second answer."""
    phone, spool, _daemon = gammu_smsd
    post = ask(phone, spool)
    (before,) = support(phone, spool, SUPPORTER, "bm", post, 2, 1)
    assert RECEIPT["bm"] not in before  # not answered yet: "the answer will come"
    answer_at_kiosk(box, post)
    if job_first:
        assert "answered 1" in run_job(box, spool)
        wait_sent(spool, SUPPORTER, 1)
        outgoing.reconcile(spool)
        (receipt,) = support(phone, spool, SUPPORTER, "bm", post, 3, 1)
        assert RECEIPT["bm"] in receipt
    else:
        texts = support(phone, spool, SUPPORTER, "bm", post, 3, 2)
        assert sum(ANSWER["bm"] in t for t in texts) == 1, texts
        assert "answered 1" in run_job(box, spool)  # the asker only
    run_job(box, spool)
    assert run_job(box, spool) == "nothing to do"
    assert answer_rows(hash_of(SUPPORTER)) == 1
    assert answer_rows(hash_of(ASKER)) == 1


def test_a_duplicate_merged_after_the_answer_gets_it_once(box, gammu_smsd):
    """A number asks the question again after it was answered; the facilitator merges
    it into the answered one at the kiosk; the worker's job sends the latest answer."""
    phone, spool, _daemon = gammu_smsd
    post = ask(phone, spool)
    answer_at_kiosk(box, post, "Avant la pluie.")
    answer_at_kiosk(box, post)  # the latest
    assert "answered 2" in run_job(box, spool)
    phone.inject(SUPPORTER, "Ɲininkali: Nioro forage tiɲɛna, a bɛna dilan waati jumɛn?")
    wait_until(lambda: handled(2), "the duplicate handled")
    wait_sent(spool, SUPPORTER, 1)  # "your question is on the board"
    outgoing.reconcile(spool)
    duplicate = Post.select().order_by(Post.id.desc()).get()
    board.merge(duplicate, Post.get_by_id(post.id), "Awa")

    assert "answered late 1" in run_job(box, spool)
    (text,) = wait_sent(spool, SUPPORTER, 1)
    assert ANSWER["bm"] in text and BODY in text and "Avant la pluie" not in text
    assert run_job(box, spool).startswith("sent")  # recorded, nothing more queued
    assert run_job(box, spool) == "nothing to do"
    assert answer_rows(hash_of(SUPPORTER)) == 1 and answer_rows(hash_of(ASKER)) == 2


def merged_duplicate_after_the_answer(box, phone, spool) -> Post:
    post = ask(phone, spool)
    answer_at_kiosk(box, post)
    assert "answered 1" in run_job(box, spool)
    phone.inject(SUPPORTER, "Ɲininkali: Nioro forage tiɲɛna, a bɛna dilan waati jumɛn?")
    wait_until(lambda: handled(2), "the duplicate handled")
    wait_sent(spool, SUPPORTER, 1)
    outgoing.reconcile(spool)
    board.merge(Post.select().order_by(Post.id.desc()).get(), Post.get_by_id(post.id), "Awa")
    return post


@pytest.mark.parametrize(
    "crash_at",
    [
        "sms:late-answer-queued",  # inside the transaction: told row and SMS rolled back
        "sms:late-answer-committed",  # both committed, nothing handed to gammu-smsd yet
        "sms:handed",  # the SMS file in gammu-smsd's outbox, not recorded
    ],
)
def test_kill_9_of_the_job_never_loses_nor_repeats_the_late_answer(box, gammu_smsd, crash_at):
    from tests.sms.test_sms_answer_delivery import espace, ok

    phone, spool, _daemon = gammu_smsd
    site_path = box.config["SITE_PATH"]
    merged_duplicate_after_the_answer(box, phone, spool)
    killed = espace("sms", "tick", "--site", site_path, "--inbox-grace", "0", crash_at=crash_at)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    queued = answer_rows(hash_of(SUPPORTER))
    assert queued == (0 if crash_at == "sms:late-answer-queued" else 1)

    ok(espace("sms", "tick", "--site", site_path, "--inbox-grace", "0"))  # the next run
    # ack, answer; ack, the late answer (gammu-smsd's own counter)
    wait_until(lambda: gammu.monitor(spool).get("Sent") == "4", "gammu-smsd sent it")
    run_job(box, spool)  # records it sent
    assert run_job(box, spool) == "nothing to do"
    (row,) = Outgoing.select().where(
        (Outgoing.purpose == "answer") & (Outgoing.number_hash == hash_of(SUPPORTER))
    )
    assert row.status == "sent" and ANSWER["bm"] in row.text and BODY in row.text
    assert spool.waiting() == 0 and sent_texts(spool) == {}
    assert gammu.monitor(spool)["Sent"] == "4"


def test_a_voice_answer_says_where_to_listen(box, gammu_smsd):
    from appliance.sync.client import apply_down

    phone, spool, _daemon = gammu_smsd
    post = ask(phone, spool)
    apply_down(
        "answer.created",
        {
            "uuid": str(uuid.uuid4()),
            "post_uuid": post.uuid,
            "official_name": OFFICIAL,
            "body": "",
            "created_at": "2026-11-30T08:00:00Z",
            "voice_sha256": "ab" * 32,
            "voice_mime": "audio/webm",
            "voice_bytes": 12000,
            "pieces": ["a" * 43],
        },
    )
    texts = support(phone, spool, SUPPORTER, "fr", post, 2, 2)
    (voice,) = [t for t in texts if "par la voix" in t]
    assert post.code in voice and "espace connect" in voice
    assert len(voice) <= 160  # one SMS
    assert "answered 1" in run_job(box, spool)  # the asker; not the supporter again
    assert answer_rows(hash_of(SUPPORTER)) == 1
