"""End to end through Debian's gammu-smsd and Gammu's dummy phone: a Bambara question
becomes a post, the kiosk's answer reaches the asker and a supporter by SMS."""

from __future__ import annotations

import json
import re

from appliance.board.models import Post
from appliance.models import OutboxEvent
from sms import gsm, outgoing, rules
from sms.models import Contact, Inbound, Outgoing
from tests.sms.conftest import PIN, sent_texts, wait_until
from tests.support import csrf

ASKER = "+22376000001"
SUPPORTER = "+22365000002"
QUESTION = "Ɲininkali: ji tɛ yen Nioro kɔnɔ, dugutigi bɛna mun kɛ?"


def handled(n: int) -> bool:
    return Inbound.select().where(Inbound.status == "handled").count() >= n


def test_a_bambara_question_becomes_a_post_and_the_answer_comes_back(box, gammu_smsd):
    phone, spool, _daemon = gammu_smsd
    phone.inject(ASKER, QUESTION)
    wait_until(lambda: handled(1), "the question handled by RunOnReceive")

    post = Post.get(Post.channel == "sms")
    assert post.body == "ji tɛ yen Nioro kɔnɔ, dugutigi bɛna mun kɛ?"
    assert post.commune.name == "Nioro" and post.kind == "question"
    assert post.theme == "water"  # "ji"
    assert post.status == "published"
    event = OutboxEvent.get(OutboxEvent.kind == "post.created")
    payload = json.loads(event.payload)
    assert payload["code"] == post.code and payload["channel"] == "sms"
    # The number never leaves the box: not in any outbox event, nor in gammu's inbox.
    assert not any(ASKER[1:] in e.payload for e in OutboxEvent.select())
    assert list(spool.folder("inbox").iterdir()) == []
    assert Contact.get().lang == "bm"

    sent = wait_until(lambda: sent_texts(spool).get(ASKER), "the acknowledgement sent")
    assert post.code in sent[0]

    # A second phone supports the question by SMS.
    phone.inject(SUPPORTER, f"N fana {post.code}")
    wait_until(lambda: handled(2), "the support handled")
    assert Post.get_by_id(post.id).support_count == 1
    wait_until(lambda: sent_texts(spool).get(SUPPORTER), "the support confirmed")
    outgoing.reconcile(spool)
    assert not list(spool.folder("sent").iterdir())  # the numbers' files are gone

    # The official's answer is typed at the kiosk.
    client = box.test_client()
    assert (
        client.post(
            "/kiosk/login", data={"name": "Awa", "pin": PIN, "csrf": csrf(client)}
        ).status_code
        == 303
    )
    page = client.get(f"/kiosk/moderation/{post.code}/answer").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = (
        "Dugutigi ko forage kura bɛna dilan kalo nataa la. Baara bɛ daminɛ "
        "tɛmɛnen kɔfɛ, ni sanji banna. An bɛ a ɲini aw ka dɛmɛ don ka ji mara."
    )
    r = client.post(
        f"/kiosk/moderation/{post.code}/answer",
        data={"csrf": token, "official_name": "Awa Traoré", "body": answer},
    )
    assert r.status_code == 303
    assert rules.queue_answers() == 1  # the worker's sms job: the answer, once

    rows = list(Outgoing.select().where(Outgoing.purpose == "answer"))
    assert {r.number_hash for r in rows} == {
        Contact.get(Contact.number == n).number_hash for n in (ASKER, SUPPORTER)
    }
    per_contact = len(rows) // 2
    assert per_contact >= 2  # cut into "1/n" pieces
    for r in rows:
        assert gsm.cost(r.text).parts == 1 == r.parts
    outgoing.flush(spool, box.config["SITE"])
    sent = wait_until(
        lambda: (
            lambda s: (
                s
                if len(s.get(ASKER, [])) == per_contact and len(s.get(SUPPORTER, [])) == per_contact
                else None
            )
        )(sent_texts(spool)),
        "the answer sent to both",
    )
    for number in (ASKER, SUPPORTER):
        texts = sent[number]
        assert texts[0].startswith(f"1/{per_contact} ")
        assert texts[-1].startswith(f"{per_contact}/{per_contact} ")
        joined = " ".join(t.split(" ", 1)[1] for t in texts)
        assert post.code in joined and "Awa Traoré" in joined
        # Transliterated where the site allows it: GSM-7 letters, fewer parts.
        assert "ny" in joined or "ɲ" in joined
    assert outgoing.spent_today(box.config["SITE"]) == Outgoing.select().count()


def test_a_concatenated_message_of_ten_parts_is_one_post(box, gammu_smsd):
    phone, spool, _daemon = gammu_smsd
    parts = [f"partie {i} de la question sur le forage de Kayes, " * 2 for i in range(10)]
    phone.inject_long("+22370000010", parts)
    wait_until(lambda: handled(1), "the long message handled")
    inbound = Inbound.get()
    assert inbound.parts == 10
    post = Post.get()
    assert post.body.startswith("partie 0") and "partie 9" in post.body
    assert post.commune.name == "Nioro"


def test_binary_flash_and_empty_messages(box, gammu_smsd):
    phone, spool, _daemon = gammu_smsd
    phone.inject("+22370000020", binary=b"\x01\x02\x03\xff")
    phone.inject("+22370000021", "Ni sɔgɔma, kalanso bɛ da wuli tuma jumɛn?", klass=0)
    phone.inject("+22370000022", "   ")
    wait_until(lambda: handled(3), "three messages handled")
    outcomes = {i.contact.number: i.outcome for i in Inbound.select()}
    assert outcomes == {"+22370000020": "binary", "+22370000021": "post", "+22370000022": "empty"}
    assert Post.select().count() == 1  # the flash message is read like any text
    sent = wait_until(
        lambda: (lambda s: s if len(s) == 3 else None)(sent_texts(spool)), "three replies"
    )
    assert set(sent) == {"+22370000020", "+22370000021", "+22370000022"}
