"""Cost, budget, privacy and bad input, through gammu-smsd: the budget queues and
resumes, STOP forgets a number, floods get one reply an hour, unknown words get help
in the sender's language, numbers expire, and an unplugged modem loses nothing."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path

from appliance.board.models import Post
from sms import outgoing, rules
from sms.models import Contact, Inbound, Link, Outgoing
from tests.sms.conftest import handled, sent_texts, wait_sent, wait_until, write_site


def set_sms(box, sms_site, **values) -> None:
    """Change [sms] settings for this process and for RunOnReceive (the site file)."""
    sms_site["sms"].update(values)
    write_site(Path(box.config["SITE_PATH"]), sms_site)
    for key, value in values.items():
        setattr(box.config["SITE"].sms, key, value)


def test_budget_exhaustion_queues_and_resumes(box, gammu_smsd, sms_site):
    phone, spool, _daemon = gammu_smsd
    site = box.config["SITE"]
    set_sms(box, sms_site, daily_budget_parts=2)
    for i in range(4):
        phone.inject(f"+2237000010{i}", f"Question {i} sur le marché de Nioro et la voirie")
    wait_until(lambda: handled(4), "four questions handled")
    assert Post.select().count() == 4  # every post stands, whatever the budget
    wait_until(lambda: len(sent_texts(spool)) == 2, "two replies, the budget")
    assert outgoing.queued_count() == 2  # queued, not dropped
    assert outgoing.spent_today(site) == 2
    assert outgoing.flush(spool, site) == 0

    tomorrow = outgoing.utcnow() + dt.timedelta(days=1)
    assert outgoing.flush(spool, site, now=tomorrow) == 2
    wait_until(lambda: len(sent_texts(spool)) == 4, "the two others, the next day")
    assert outgoing.queued_count() == 0
    assert outgoing.spent_today(site, tomorrow) == 2
    # Oldest first: tomorrow's are the ones that waited.
    assert sorted(sent_texts(spool)) == [f"+2237000010{i}" for i in range(4)]


def test_stop_forgets_the_number(box, gammu_smsd):
    phone, spool, _daemon = gammu_smsd
    number = "+22376000050"
    phone.inject(number, "Q Kayes santé: le dispensaire est fermé le dimanche")
    wait_sent(spool, number, 1)
    post = Post.get()
    phone.inject("+22376000051", f"SOUTIEN {post.code}")
    wait_sent(spool, "+22376000051", 1)
    phone.inject(number, "STOP")
    goodbye = wait_sent(spool, number, 2)[1]
    assert goodbye
    outgoing.reconcile(spool)

    assert Contact.select().where(Contact.number == number).count() == 0
    assert Link.select().count() == 1  # only the supporter's
    assert Post.get_by_id(post.id).body == "Kayes santé: le dispensaire est fermé le dimanche"
    con = sqlite3.connect(box.config["DATA_DIR"] / "espace.sqlite3")
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert number not in dump and number[1:] not in dump
    assert rules.number_hash(number) not in dump
    # Nothing in gammu's folders either.
    assert not any(number in p.name for p in spool.root.rglob("*"))

    # An answer now reaches only the supporter.
    from appliance.board import rules as board

    board.answer(
        post,
        official_id=None,
        official_name="Maire",
        body="Ouvert dès lundi.",
        voice_data=None,
        recorded_by="Awa",
        site=box.config["SITE"],
        data_dir=box.config["DATA_DIR"],
    )
    rules.queue_answers()  # the worker's sms job
    answers = list(Outgoing.select().where(Outgoing.purpose == "answer"))
    assert [a.number for a in answers] == ["+22376000051"]


def test_a_flood_gets_one_reply_an_hour_and_keywords_in_every_language(box, gammu_smsd, sms_site):
    phone, spool, _daemon = gammu_smsd
    site = box.config["SITE"]
    set_sms(box, sms_site, messages_per_hour=3)
    flood = "+22370000060"
    for i in range(6):
        phone.inject(flood, f"Message numéro {i} pour remplir la boîte de questions")
    wait_until(lambda: handled(6), "the flood handled")
    assert Post.select().count() == 3
    outcomes = [i.outcome for i in Inbound.select().order_by(Inbound.id)]
    assert outcomes == ["post"] * 3 + ["rate_limited"] * 3
    texts = wait_sent(spool, flood, 4)
    assert len([t for t in texts if t]) == 4  # three receipts, ONE refusal
    outgoing.flush(spool, site)
    assert len(sent_texts(spool)[flood]) == 4

    # Unknown words get help in the language the number used last.
    for number, first, lang_word in (
        ("+22370000061", "PROG", "zorglub"),
        ("+22370000062", "POROGARAMU", "bafoo"),
        ("+22370000063", "PORGARAM", "wakala"),
    ):
        phone.inject(number, first)
        wait_sent(spool, number, 1)
        phone.inject(number, lang_word)
        help_text = wait_sent(spool, number, 2)[1]
        assert "PROG" in help_text
    langs = {c.number: c.lang for c in Contact.select()}
    assert langs["+22370000062"] == "bm" and langs["+22370000063"] == "snk"
    assert Inbound.select().where(Inbound.outcome == "unknown").count() == 3


def test_numbers_expire_after_retention(box, db):
    from sms.gammu import Received

    with box.app_context():
        now = outgoing.utcnow()
        old = now - dt.timedelta(days=40)
        rules.store(
            Received("k1", "+22370000070", "Q eau: la pompe est cassée", -1, False, 1), now=old
        )
        rules.handle_pending(now=old)
        rules.store(Received("k2", "+22370000071", "aide", -1, False, 1), now=now)
        rules.handle_pending(now=now)
        assert rules.expire(now=now) == 1
        assert [c.number for c in Contact.select()] == ["+22370000071"]
        assert Post.select().count() == 1  # the post stays, leading to no one
        assert Inbound.select().count() == 1


def test_gammu_log_never_shows_a_number(box, gammu_smsd, caplog):
    phone, spool, _daemon = gammu_smsd
    caplog.set_level(logging.INFO, logger="espace.sms")
    phone.inject("+22370000080", "Q: quand commence la campagne de vaccination ?")
    wait_sent(spool, "+22370000080", 1)
    wait_until(
        lambda: any("Transmitted" in r.getMessage() for r in caplog.records),
        "gammu-smsd's log line",
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "70000080" not in text


def test_modem_unplugged_mid_send_loses_nothing(box, gammu_smsd, caplog):
    """The stick is pulled out while messages wait: gammu-smsd cannot open it and
    keeps trying; nothing is lost. Plugged back, each message is sent once. A message
    gammu-smsd gave up on (moved to its error folder) is sent again once, then
    reported failed."""
    from sms.gammu import Daemon

    phone, spool, daemon = gammu_smsd
    site = box.config["SITE"]
    caplog.set_level(logging.INFO, logger="espace.sms.gammu")
    daemon.kill()
    unplugged = phone.root.with_name("phone-unplugged")
    phone.root.rename(unplugged)
    from appliance.db import database

    with database.atomic():
        contact = rules._contact("+22370000090", outgoing.iso(outgoing.utcnow()))
        for i in range(3):
            outgoing.queue(contact, f"Réponse {i}", "answer", site)
    assert outgoing.flush(spool, site) == 3
    with Daemon(spool):
        wait_until(
            lambda: any("Error at init connection" in r.getMessage() for r in caplog.records),
            "gammu-smsd failing to open the modem",
        )
        assert spool.waiting() == 3  # at the modem's door, not sent, not lost
        assert sent_texts(spool) == {}
        unplugged.rename(phone.root)  # plugged back in
        wait_until(
            lambda: len(sent_texts(spool).get("+22370000090", [])) == 3,
            "the three sent once the modem is back",
            timeout=120,
        )
    assert sorted(sent_texts(spool)["+22370000090"]) == ["Réponse 0", "Réponse 1", "Réponse 2"]
    assert outgoing.reconcile(spool) == (3, 0, 0)

    # gammu-smsd moved one to its error folder (what it does when a send fails).
    with database.atomic():
        row = outgoing.queue(contact, "Réponse 3", "answer", site)[0]
    outgoing.flush(spool, site)
    name = spool.find(row.id)
    (spool.folder("outbox") / name).rename(spool.folder("error") / name)
    assert outgoing.reconcile(spool) == (0, 1, 0)
    assert Outgoing.get_by_id(row.id).status == "queued"  # sent again, once
    outgoing.flush(spool, site)
    name = spool.find(row.id)
    (spool.folder("outbox") / name).rename(spool.folder("error") / name)
    assert outgoing.reconcile(spool) == (0, 0, 1)
    failed = Outgoing.get_by_id(row.id)
    assert failed.status == "failed" and failed.number == ""


def test_one_number_cannot_spend_the_day_on_replies(box, gammu_smsd, sms_site):
    """Twelve valid questions an hour each get a receipt, up to the number's daily reply
    cap; the posts all stand and the answer to one still goes past the cap."""
    phone, spool, _daemon = gammu_smsd
    set_sms(box, sms_site, messages_per_hour=50, reply_parts_per_day=3)
    busy, other = "+22370000080", "+22370000081"
    for i in range(6):
        phone.inject(busy, f"Q Question {i} sur le forage du quartier et la pompe")
    wait_until(lambda: handled(6), "six questions handled")
    assert Post.select().count() == 6  # every message handled
    busy_hash = Contact.get(Contact.number == busy).number_hash
    receipts = Outgoing.select().where(
        (Outgoing.purpose == "ack") & (Outgoing.number_hash == busy_hash)
    )
    assert sum(r.parts for r in receipts) == 3  # one part each, three of them
    phone.inject(other, "Q Le marché de Diéma est-il ouvert le dimanche ?")
    wait_sent(spool, other, 1)  # the cap is per number

    from appliance.board import rules as board

    asked = Link.get(Link.contact == Contact.get(Contact.number == busy).id).post
    board.answer(
        asked,
        official_id=None,
        official_name="Maire",
        body="La pompe sera réparée lundi.",
        voice_data=None,
        recorded_by="Awa",
        site=box.config["SITE"],
        data_dir=box.config["DATA_DIR"],
    )
    rules.queue_answers()  # the worker's sms job
    answers = Outgoing.select().where(Outgoing.purpose == "answer")
    assert [a.number_hash for a in answers] == [busy_hash]
