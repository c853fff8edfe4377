"""The kiosk in Debian's chromium at the Pi touchscreen's 800x480, by touch only:
log in on the keypad, create a weekly session with the on-screen keyboard and the
pickers, check a visitor in by the code they show."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.pins import hash_pin
from appliance.programme import rules
from appliance.programme.models import Booking, Session
from tests.support import make_site

pytestmark = pytest.mark.browser
PIN = "3579"


@pytest.fixture
def site_doc(tmp_path):
    return make_site(tmp_path, kiosk={"facilitators": [{"name": "Awa",
                                                        "pin_hash": hash_pin(PIN)},
                                                       {"name": "Modibo",
                                                        "pin_hash": hash_pin("1111")}]})


def tap_keys(page, text: str) -> None:
    for ch in text:
        key = "␣" if ch == " " else ch
        page.tap(f'#osk button[data-k="{key}"]')


def test_kiosk_by_touch(live_server, touchscreen, db, artifacts):
    page = touchscreen
    page.goto(live_server.url + "/kiosk/")
    assert "/kiosk/login" in page.url
    # Log in with the on-screen keypad: no keyboard on the kiosk.
    page.tap("text=Awa")
    for digit in PIN:
        page.tap(f'#pad button[data-k="{digit}"]')
    assert page.input_value("#pin") == PIN
    page.screenshot(path=artifacts / "kiosk-login-800x480.png")
    page.tap("#ok")
    page.wait_for_url(live_server.url + "/kiosk/")
    assert page.locator("#clock").is_visible()
    page.screenshot(path=artifacts / "kiosk-today-empty-800x480.png")

    # A weekly session: title typed on the on-screen keyboard, then the pickers.
    page.tap("nav.kiosk >> text=New session")
    page.wait_for_url("**/kiosk/sessions/new")
    page.tap("#title")
    assert page.locator("#osk").is_visible()
    page.tap('#osk button[data-k="⇧"]')
    tap_keys(page, "grin numérique")
    assert page.input_value("#title") == "Grin numérique"
    page.screenshot(path=artifacts / "kiosk-keyboard-800x480.png")
    page.tap('#osk button[data-k="✓"]')
    assert not page.locator("#osk").is_visible()
    page.tap("text=Debate")
    page.locator(".chips.scroll .chip").nth(2).tap()  # the day after tomorrow
    hour = int(page.input_value("#hour"))
    page.locator("#hour").locator("xpath=following-sibling::button").tap()
    assert int(page.input_value("#hour")) == hour + 1
    page.tap('.chip:has(input[name="minute"][value="30"])')
    page.locator("#capacity").locator("xpath=preceding-sibling::button").tap()
    page.locator("#reserved_women").locator("xpath=following-sibling::button").tap()
    page.tap("text=Every week")
    page.tap("#preview")
    page.wait_for_selector('input[name="occurrence"]')
    page.locator('.chip:has(input[name="occurrence"])').nth(1).tap()  # skip the 2nd week
    page.screenshot(path=artifacts / "kiosk-weekly-session-800x480.png")
    page.tap("#save")
    page.wait_for_url(re.compile(r".*/kiosk/sessions/[0-9]+$"))
    made = list(Session.select().order_by(Session.starts_at))
    assert [s.title for s in made] == ["Grin numérique"] * 3
    assert made[0].kind == "debate" and made[0].capacity == 19 and made[0].reserved_women == 1
    assert (made[0].starts_at.hour, made[0].starts_at.minute) == (hour + 1, 30)
    assert (made[1].starts_at - made[0].starts_at).days == 14
    assert made[0].series_id == made[2].series_id is not None

    # A visitor booked from their phone; at the door they show the code.
    b = rules.book(made[0].id, "Kadiatou", "", "f", "under35",
                   now=made[0].starts_at - dt.timedelta(days=1))
    page.reload()
    page.tap("#code")
    assert "num" in page.locator("#osk").get_attribute("class")
    tap_keys(page, b.code)
    page.tap('#osk button[data-k="✓"]')
    page.tap("#checkin-code")
    page.wait_for_selector(".flash.ok")
    assert "Kadiatou" in page.locator(".flash.ok").inner_text()
    assert page.locator("#present").inner_text() == "1"
    assert Booking.get_by_id(b.id).attendance == "present"
    page.screenshot(path=artifacts / "kiosk-checked-in-800x480.png")
    # Everything fits the screen's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 800

    # The attendance sheet, as printed.
    page.goto(f"{live_server.url}/kiosk/sessions/{made[0].id}/sheet")
    page.emulate_media(media="print")
    assert not page.locator(".noprint").is_visible()
    assert page.locator("tbody tr").count() == 19  # Kadiatou and blank rows to the capacity
    assert "Kadiatou" in page.locator("tbody tr").first.inner_text()
    page.screenshot(path=artifacts / "kiosk-attendance-sheet-print.png", full_page=True)
