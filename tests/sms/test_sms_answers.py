"""Answers pulled from central reach SMS askers too, and so do the askers of a duplicate
merged into the answered post; a voice answer sends where to listen."""

from __future__ import annotations

import uuid

from appliance.board import rules as board
from appliance.board.models import Post
from sms import rules
from sms.gammu import Received
from sms.models import Outgoing


def ask(number: str, text: str, key: str) -> Post:
    rules.store(Received(key, number, text, -1, False, 1))
    rules.handle_pending()
    return Post.select().order_by(Post.id.desc()).get()


def test_an_answer_from_central_and_a_merged_duplicate(box):
    first = ask("+22376000021", "Q eau: quand le forage de Nioro sera-t-il réparé ?", "a")
    dup = ask("+22376000022", "Q: le forage de Nioro est cassé, que fait la mairie ?", "b")
    board.merge(dup, first, "Awa")
    board.receive_answer(
        {
            "uuid": str(uuid.uuid4()),
            "post_uuid": first.uuid,
            "official_name": "Maire de Nioro",
            "body": "Lundi prochain.",
            "created_at": "2026-11-30T08:00:00Z",
        }
    )
    assert rules.queue_answers() == 1  # the worker's sms job
    answers = list(Outgoing.select().where(Outgoing.purpose == "answer"))
    assert sorted(a.number for a in answers) == ["+22376000021", "+22376000022"]
    assert all(first.code in a.text and "Lundi prochain." in a.text for a in answers)
    assert all("Maire de Nioro" in a.text for a in answers)

    # The same answer pulled twice (a replayed sync) queues nothing more.
    before = Outgoing.select().count()
    again = board.Answer.get()
    board.receive_answer(
        {
            "uuid": again.uuid,
            "post_uuid": first.uuid,
            "official_name": "Maire de Nioro",
            "body": "Lundi prochain.",
        }
    )
    assert rules.queue_answers() == 0  # and the job, run again, nothing either
    assert Outgoing.select().count() == before


def test_sms_off_queues_nothing(box):
    post = ask("+22376000023", "Q: la route de Kayes est coupée depuis la pluie", "c")
    box.config["SITE"].sms.enabled = False
    before = Outgoing.select().count()
    board.answer(
        post,
        official_id=None,
        official_name="Maire",
        body="Réparée demain.",
        voice_data=None,
        recorded_by="Awa",
        site=box.config["SITE"],
        data_dir=box.config["DATA_DIR"],
    )
    from sms.service import worker_job

    assert worker_job(box) == "SMS is off (sms.enabled)"
    assert Outgoing.select().count() == before


def test_a_voice_answer_recorded_on_central_says_where_to_listen(box):
    """Issue 15: an answer recorded by voice in central's browser comes down through the
    sync's handler; the asker gets one short SMS, in their language, saying to listen at
    the espace (no voice can go by SMS)."""
    from appliance.sync.client import apply_down

    post = ask("+22376000024", "Q: ka forage dilan tuma jumɛn?", "d")
    apply_down(
        "answer.created",
        {
            "uuid": str(uuid.uuid4()),
            "post_uuid": post.uuid,
            "official_name": "Fatoumata Keïta",
            "body": "",
            "created_at": "2026-11-30T08:00:00Z",
            "voice_sha256": "ab" * 32,
            "voice_mime": "audio/webm",
            "voice_bytes": 12000,
            "pieces": ["a" * 43],
        },
    )
    assert rules.queue_answers() == 1
    (sent,) = Outgoing.select().where(Outgoing.purpose == "answer")
    assert sent.number == "+22376000024" and post.code in sent.text
    # GSM-7 has no ï: the name goes as the SMS layer spells it, in one 160-char part.
    assert "Fatoumata Ke" in sent.text and "espace connecté" in sent.text
    assert len(sent.text) <= 160  # one SMS
