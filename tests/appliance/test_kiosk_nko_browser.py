"""The on-screen keyboard's N'Ko layout (issue 15), in chromium at 800x480 by touch:
offered only where the site offers N'Ko (kiosk.keyboard_nko), every N'Ko key typed and
kept, the rows right to left, and an official's name and role typed in N'Ko saved
exactly as typed."""

from __future__ import annotations

import unicodedata

import pytest

from appliance.models import Official
from appliance.pins import hash_pin
from tests.appliance.test_kiosk_touch_browser import log_in
from tests.support import make_site

pytestmark = pytest.mark.browser
PIN = "3579"
# Every key of the layout: the letters U+07CA..U+07EA, the digits, the tone marks
# (combining, typed after a letter), N'Ko punctuation and the Arabic ones N'Ko uses.
LETTERS = "".join(chr(c) for c in range(0x07CA, 0x07EB))
DIGITS = "߁߂߃߄߅߆߇߈߉߀"
MARKS = "߲߫߬߭߮߯߰߱߳"
EVERY_KEY = LETTERS + " " + DIGITS + " ߊ" + MARKS + " ߴߵߺ߸߹،؟."
# "Mamadu Keita, ka kɔrɔ" in N'Ko with tone marks, and a role with N'Ko digits.
NAME = "ߡߊ߬ߡߊߘߎ߫ ߞߋ߬ߕߊ"
ROLE = "ߞߎ߲߬ߠߊ߬ߛߌ߬ ߁߂"


@pytest.fixture
def site_doc(tmp_path):
    return make_site(
        tmp_path,
        kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}], "keyboard_nko": True},
    )


def tap_nko(page, text: str) -> None:
    for ch in text:
        page.tap('#osk button[data-k="␣"]' if ch == " " else f'#osk button[data-k="{ch}"]')


def test_nko_typed_by_touch_is_saved_as_typed(live_server, touchscreen, db, artifacts):
    assert unicodedata.normalize("NFC", NAME) == NAME  # what the board keeps (NFC)
    page = touchscreen
    log_in(page, live_server.url)
    page.goto(live_server.url + "/kiosk/moderation/officials")
    form = page.locator("form").filter(has=page.locator('input[name="id"][value=""]'))
    name = form.locator('input[name="name"]')
    name.tap()
    page.tap('#osk button[data-k="ߒߞߏ"]')
    assert "nko" in page.locator("#osk").get_attribute("class")
    # Right to left: a row's first key is at the right of its last.
    row = page.locator("#osk div").first
    first = row.locator("button").first.bounding_box()
    last = row.locator("button").last.bounding_box()
    assert first["x"] > last["x"]
    # Every key fits the 800 px screen and is a touch target.
    for button in page.locator("#osk button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 800 and box["height"] >= 40

    tap_nko(page, EVERY_KEY)
    assert name.input_value() == EVERY_KEY
    page.screenshot(path=artifacts / "kiosk-keyboard-nko-800x480.png")
    for _ in EVERY_KEY:
        page.tap('#osk button[data-k="⌫"]')
    assert name.input_value() == ""

    tap_nko(page, NAME)
    form.locator('input[name="role"]').tap()
    assert "nko" in page.locator("#osk").get_attribute("class")  # the layout stays
    tap_nko(page, ROLE)
    page.tap('#osk button[data-k="✓"]')
    form.locator('button[type="submit"]').tap()
    page.wait_for_selector(".notice")
    saved = Official.get(Official.name == NAME)
    assert saved.role == ROLE
    # Shown back right to left, and "abc" returns to the Latin layout.
    shown = page.locator(f'input[name="name"][value="{NAME}"]')
    assert shown.evaluate("e => getComputedStyle(e).direction") == "rtl"
    shown.tap()
    page.tap('#osk button[data-k="abc"]')
    assert page.locator('#osk button[data-k="é"]').is_visible()


def test_no_nko_layout_where_the_site_does_not_offer_it(app, live_server, touchscreen, db):
    app.config["SITE"].kiosk.keyboard_nko = False
    page = touchscreen
    log_in(page, live_server.url)
    page.goto(live_server.url + "/kiosk/moderation/officials")
    page.locator('input[name="name"]').first.tap()
    assert page.locator("#osk").is_visible()
    assert page.locator('#osk button[data-k="ߒߞߏ"]').count() == 0
