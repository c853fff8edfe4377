"""The kiosk by touch only (issue 15), in chromium at 800x480: every tab fits on the
screen at once with touch-sized targets; every text field of every page opens the
on-screen keyboard; the keyboard types French, the Malian languages' letters, digits
and punctuation, and what is typed is what is saved ("Fatoumata Keïta")."""

from __future__ import annotations

import pytest

from appliance.board import rules as board_rules
from appliance.board.rules import Draft
from appliance.models import Commune, Official
from appliance.pins import hash_pin
from tests.support import make_site

pytestmark = pytest.mark.browser
PIN = "3579"
# Everything the keyboard must type: French letters and accents, the Malian languages'
# letters, their capitals, digits, punctuation.
EVERY_KEY = (
    "éèêëàâïîôûùçœ ɛɔɲŋ ÉÈÊËÀÂÏÎÔÛÙÇŒ ƐƆƝŊ azertyuiopqsdfghjklmwxcvbn "
    "AZERTY 0123456789 : ? ! , . ' - /"
)


@pytest.fixture
def site_doc(tmp_path):
    return make_site(
        tmp_path,
        board={"moderation": "before"},
        kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}]},
    )


def log_in(page, url: str) -> None:
    page.goto(url + "/kiosk/")
    page.tap("text=Awa")
    for digit in PIN:
        page.tap(f'#pad button[data-k="{digit}"]')
    page.tap("#ok")
    page.wait_for_url(url + "/kiosk/")


def tap_text(page, text: str) -> None:
    """Type ``text`` on the on-screen keyboard: ⇧ before each capital."""
    for ch in text:
        if ch == " ":
            page.tap('#osk button[data-k="␣"]')
            continue
        if ch != ch.lower():
            page.tap('#osk button[data-k="⇧"]')
            ch = ch.lower()
        page.tap(f'#osk button[data-k="{ch}"]')


def test_every_tab_fits_and_every_field_has_the_keyboard(
    live_server, touchscreen, app, db, artifacts
):
    page = touchscreen
    site, data_dir = app.config["SITE"], app.config["DATA_DIR"]
    nioro = Commune.get(Commune.name == "Nioro")
    maire = Official.create(name="Awa Diallo", role="Maire", commune=nioro, gender="f")
    post = board_rules.create_post(
        Draft(kind="question", target=f"o:{maire.id}", theme="water", body="Le forage ?"),
        None,
        site=site,
        data_dir=data_dir,
    )
    log_in(page, live_server.url)

    # The tabs: all on screen, none scrolled away, each a touch-sized target.
    tabs = page.locator("nav.kiosk a")
    assert tabs.count() >= 8
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 800, tabs.nth(i).inner_text()
        assert box["height"] >= 48 and box["width"] >= 48
    assert page.evaluate(
        "document.querySelector('nav.kiosk').scrollWidth"
        " <= document.querySelector('nav.kiosk').clientWidth"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    page.screenshot(path=artifacts / "kiosk-tabs-800x480.png")
    # Every tab by touch.
    for i in range(tabs.count()):
        href = page.locator("nav.kiosk a").nth(i).get_attribute("href")
        page.locator("nav.kiosk a").nth(i).tap()
        page.wait_for_url(f"**{href}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 800, href

    # The Board tab's fields: merge code, another reason (each opens the keyboard).
    page.goto(live_server.url + "/kiosk/moderation")
    for field in (
        f'#q-{post.code} input[name="reason_text"]',
        f'#q-{post.code} input[name="into"]',
    ):
        page.tap(field)
        assert page.locator("#osk").is_visible(), field
        page.tap('#osk button[data-k="✓"]')
        assert not page.locator("#osk").is_visible()

    # Every key types its character: nothing dropped, capitals by ⇧.
    page.tap(f'#q-{post.code} input[name="reason_text"]')
    tap_text(page, EVERY_KEY)
    assert page.input_value(f'#q-{post.code} input[name="reason_text"]') == EVERY_KEY
    page.screenshot(path=artifacts / "kiosk-keyboard-every-key-800x480.png")
    page.tap('#osk button[data-k="✓"]')

    # An official named "Fatoumata Keïta", role typed too: saved as typed.
    page.goto(live_server.url + "/kiosk/moderation/officials")
    form = page.locator("form").filter(has=page.locator('input[name="id"][value=""]'))
    form.locator('input[name="name"]').tap()
    assert page.locator("#osk").is_visible()
    tap_text(page, "Fatoumata Keïta")
    form.locator('input[name="role"]').tap()
    tap_text(page, "Adjointe: santé")
    page.tap('#osk button[data-k="✓"]')
    form.locator('button[type="submit"]').tap()
    page.wait_for_selector(".notice")
    saved = Official.get(Official.name == "Fatoumata Keïta")
    assert saved.role == "Adjointe: santé"

    # The typed answer and the other official's name.
    page.goto(live_server.url + f"/kiosk/moderation/{post.code}/answer")
    for field in ('textarea[name="body"]', 'input[name="official_name"]'):
        page.tap(field)
        assert page.locator("#osk").is_visible(), field
    tap_text(page, "Ɲɛ")
    assert page.input_value('input[name="official_name"]') == "Ɲɛ"


def test_door_by_touch_undo_cancel_print_and_shut_down(
    live_server, touchscreen, app, db, artifacts, tmp_path
):
    import datetime as dt

    from appliance.programme import rules
    from appliance.programme.models import Booking, Session

    page = touchscreen
    marker = tmp_path / "powered-off"
    app.config["POWEROFF_COMMAND"] = ["/usr/bin/touch", str(marker)]
    now = rules.utcnow()
    s = rules.create_session(
        {"title": "Débat", "kind": "debate", "duration_min": 60, "capacity": 5},
        now + dt.timedelta(hours=5),
    )
    a = rules.book(s.id, "Awa", "", "f", "under35", now=now)
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/kiosk/sessions/{s.id}")
    # Before the start: no "no-show" button; "present" by mistake is undone.
    assert page.locator("button.noshow").count() == 0
    page.locator("button.present").tap()
    page.wait_for_selector("button.undo")
    assert Booking.get_by_id(a.id).attendance == "present"
    page.locator("button.undo").tap()
    page.wait_for_selector("button.present")
    assert Booking.get_by_id(a.id).attendance == ""
    # Cancelling asks first; "No" keeps the session.
    page.tap("#cancel")
    assert page.locator("#cancel-yes").is_visible()
    page.screenshot(path=artifacts / "kiosk-cancel-confirm-800x480.png")
    page.tap("text=No, keep it")
    assert not page.locator("#cancel-yes").is_visible()
    assert not Session.get_by_id(s.id).cancelled
    page.tap("#cancel")
    page.tap("#cancel-yes")
    page.wait_for_selector("text=This session is cancelled.")
    assert Session.get_by_id(s.id).cancelled
    # The print sheet opens in the same tab, with a way back.
    page.tap("#print")
    page.wait_for_url(f"**/kiosk/sessions/{s.id}/sheet")
    assert len(page.context.pages) == 1
    page.tap("#back")
    page.wait_for_url(f"**/kiosk/sessions/{s.id}")
    # Shut down from the Health tab, after a confirmation.
    page.goto(f"{live_server.url}/kiosk/health")
    page.tap("#shutdown")
    page.wait_for_selector("#shutdown-yes")
    assert not marker.exists()
    page.screenshot(path=artifacts / "kiosk-shutdown-confirm-800x480.png")
    page.tap("#shutdown-yes")
    page.wait_for_selector("#shutdown-done")
    assert marker.exists()
