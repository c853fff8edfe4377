"""The kiosk's SMS tab and the SMS icon on posts that came by SMS."""

from __future__ import annotations

from appliance.db import database
from sms import outgoing, rules
from sms.gammu import Received
from tests.sms.conftest import PIN
from tests.support import csrf


def test_the_kiosk_shows_sms_posts_the_queue_and_the_budget(box):
    rules.store(
        Received("k1", "+22376000011", "Q eau: le forage de Nioro est en panne", -1, False, 1)
    )
    rules.handle_pending()
    with database.atomic():
        contact = rules.Contact.get()
        outgoing.queue(contact, "Deuxième message", "answer", box.config["SITE"])
    client = box.test_client()
    assert client.get("/kiosk/sms/").status_code in (302, 303)  # the PIN first
    assert (
        client.post(
            "/kiosk/login", data={"name": "Awa", "pin": PIN, "csrf": csrf(client)}
        ).status_code
        == 303
    )
    page = client.get("/kiosk/sms/").get_data(as_text=True)
    assert 'id="sms-queued">2<' in page  # the receipt and the second message
    assert 'id="sms-budget">0 / 100<' in page
    assert "le forage de Nioro" in page and "#i-sms" in page
    assert "22376000011" not in page
    nav = client.get("/kiosk/week").get_data(as_text=True)
    assert "<span>SMS</span>" in nav or ">SMS</a>" in nav
    queue = client.get("/kiosk/moderation/answers").get_data(as_text=True)
    assert "Par SMS" in queue or "By SMS" in queue


def test_the_visitors_board_marks_sms_posts(box):
    rules.store(
        Received("k2", "+22376000012", "Q: le marché de Nioro ferme trop tôt le soir", -1, False, 1)
    )
    rules.handle_pending()
    client = box.test_client()
    client.set_cookie("lang", "fr")
    page = client.get("/board/").get_data(as_text=True)
    assert "le marché de Nioro" in page
    assert 'class="badge sms"' in page and "Par SMS" in page and "#b-sms" in page
