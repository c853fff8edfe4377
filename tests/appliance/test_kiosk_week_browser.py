"""The rest of a facilitator's week by touch (issue 15's Done-when), in chromium at
800x480, no physical keyboard: no-show offered after the start, a walk-in typed on the
on-screen keyboard, a session moved to another day (the visitor sees it on their ticket
and on the programme, in a phone at 360x640), moderation with a typed reason and a
merge code typed, an answer typed with accents, and the health panel read in words.

What test_kiosk_browser.py (weekly series with reserved seats, check-in by code) and
test_kiosk_touch_browser.py (Present undone, no no-show before the start, cancel
confirmed, "Fatoumata Keïta", shut down) and test_board_kiosk_browser.py (publish,
merge, hide, an answer by voice) cover is not repeated."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.board import rules as board_rules
from appliance.board.models import Answer, Post
from appliance.board.rules import Draft
from appliance.models import Commune, Official
from appliance.pins import hash_pin
from appliance.programme import rules
from appliance.programme.models import Booking, Session
from tests.appliance.test_kiosk_touch_browser import log_in, tap_text
from tests.support import make_site

pytestmark = pytest.mark.browser
PIN = "3579"


@pytest.fixture
def site_doc(tmp_path):
    return make_site(
        tmp_path,
        board={"moderation": "before"},
        kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}]},
    )


def test_no_show_walk_in_and_a_moved_session_seen_by_the_visitor(
    live_server, touchscreen, browser, db, artifacts
):
    page = touchscreen
    now = rules.utcnow()
    started = rules.create_session(
        {"title": "Grin numérique", "kind": "training", "duration_min": 120, "capacity": 4},
        now - dt.timedelta(minutes=30),
    )
    early = now - dt.timedelta(days=1)
    came = rules.book(started.id, "Kadiatou", "", "f", "under35", now=early)
    absent = rules.book(started.id, "Moussa", "", "m", "35plus", now=early)
    later = rules.create_session(
        {"title": "Débat sur l'eau", "kind": "debate", "duration_min": 90, "capacity": 10},
        (now + dt.timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0),
    )
    visitor = rules.book(later.id, "Fanta", "", "f", "under35", now=now)
    log_in(page, live_server.url)

    # After the start, "No-show" is offered; one is marked, one checked in.
    page.goto(f"{live_server.url}/kiosk/sessions/{started.id}")
    assert page.locator("button.noshow").count() == 2
    page.locator("tr", has_text="Moussa").locator("button.noshow").tap()
    page.wait_for_selector("tr:has-text('Moussa') .b.no")
    page.locator("tr", has_text="Kadiatou").locator("button.present").tap()
    page.wait_for_selector("tr:has-text('Kadiatou') button.undo")
    assert Booking.get_by_id(absent.id).attendance == "no_show"
    assert Booking.get_by_id(came.id).attendance == "present"

    # A walk-in: name typed on the on-screen keyboard, then the chips.
    page.tap("#walkin-name")
    assert page.locator("#osk").is_visible()
    tap_text(page, "Sékou Diarra")
    page.tap('#osk button[data-k="✓"]')
    page.tap('label.chip:has(input[name="gender"][value="m"])')
    page.tap('label.chip:has(input[name="age_group"][value="under35"])')
    page.tap("#walkin")
    page.wait_for_selector(".flash.ok")
    assert "Sékou Diarra" in page.locator(".flash.ok").inner_text()
    walk = Booking.get(Booking.walk_in)
    assert (walk.name, walk.gender, walk.age_group, walk.attendance) == (
        "Sékou Diarra",
        "m",
        "under35",
        "present",
    )
    assert page.locator("#present").inner_text() == "2"
    page.screenshot(path=artifacts / "kiosk-week-door-800x480.png")

    # The debate moves to the next day, by touch: the day chips, then Save.
    page.goto(f"{live_server.url}/kiosk/sessions/{later.id}/edit")
    new_day = (later.starts_at + dt.timedelta(days=1)).date().isoformat()
    page.tap(f'label.chip:has(input[name="date"][value="{new_day}"])')
    page.tap("#save")
    page.wait_for_url(re.compile(rf".*/kiosk/sessions/{later.id}$"))
    moved = Session.get_by_id(later.id)
    assert moved.moved_from == later.starts_at
    assert moved.starts_at == later.starts_at + dt.timedelta(days=1)
    assert page.locator("#moved").is_visible()

    # The visitor who booked sees the new time on their ticket and on the programme.
    phone = browser.new_context(
        viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True
    )
    try:
        p = phone.new_page()
        p.goto(f"{live_server.url}/programme/{later.id}/b/{visitor.code}")
        note = p.locator("#moved")
        assert note.is_visible()
        text = note.inner_text()
        assert "New time" in text and text.count("10:00") == 2  # the old and the new
        p.screenshot(path=artifacts / "ticket-moved-360x640.png", full_page=True)
        p.goto(f"{live_server.url}/programme/")
        assert p.locator(".moved").first.is_visible()
        assert p.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        phone.close()


def test_moderate_with_a_typed_reason_answer_with_accents_and_read_health(
    live_server, touchscreen, app, db, artifacts
):
    page = touchscreen
    site, data_dir = app.config["SITE"], app.config["DATA_DIR"]
    nioro = Commune.get(Commune.name == "Nioro")
    maire = Official.create(name="Awa Diallo", role="Maire", commune=nioro, gender="f")
    keep, dup, bad = (
        board_rules.create_post(
            Draft(kind="question", target=f"o:{maire.id}", theme="water", body=body),
            None,
            site=site,
            data_dir=data_dir,
        )
        for body in ("Quand le forage sera-t-il réparé ?", "Le forage !", "Achetez mes pagnes")
    )
    log_in(page, live_server.url)
    page.goto(live_server.url + "/kiosk/moderation")
    page.locator(f"#q-{keep.code} button", has_text="Publish").tap()
    page.wait_for_selector("p.notice")
    # Hidden with a reason typed on the on-screen keyboard.
    reason = "Publicité: hors sujet"
    page.tap(f'#q-{bad.code} input[name="reason_text"]')
    tap_text(page, reason)
    page.tap('#osk button[data-k="✓"]')
    page.locator(f"#q-{bad.code} button", has_text="Hide").tap()
    page.wait_for_selector(f"p.notice:has-text('{bad.code}')")
    # Merged by the code typed on the keyboard (capitals by ⇧, digits on the top row).
    page.tap(f'#q-{dup.code} input[name="into"]')
    tap_text(page, keep.code)
    page.tap('#osk button[data-k="✓"]')
    page.locator(f"#q-{dup.code} button", has_text="Merge into").tap()
    page.wait_for_selector(f"p.notice:has-text('{dup.code}')")
    assert [
        (Post.get_by_id(p.id).status, Post.get_by_id(p.id).hidden_reason) for p in (keep, dup, bad)
    ] == [("published", ""), ("merged", ""), ("hidden", reason)]

    # An answer typed during the debate, accents and punctuation kept.
    body = "Le forage sera réparé lundi à 9 h : la mairie paie, ça ira !"
    page.goto(live_server.url + "/kiosk/moderation/answers")
    page.locator(".item", has_text=keep.code).locator("text=Record the answer").tap()
    page.wait_for_url(f"**/kiosk/moderation/{keep.code}/answer")
    page.select_option("#official", str(maire.id))
    page.tap('textarea[name="body"]')
    assert page.locator("#osk").is_visible()
    tap_text(page, body)
    page.tap('#osk button[data-k="✓"]')
    page.screenshot(path=artifacts / "kiosk-answer-typed-800x480.png")
    page.locator("button", has_text="Save the answer").tap()
    page.wait_for_url(re.compile(r".*/kiosk/moderation/answers.*"))
    answer = Answer.get()
    assert (answer.body, answer.official_name, answer.recorded_by) == (body, "Awa Diallo", "Awa")

    # The health panel, read in words: the sync's state and each figure's verdict.
    page.tap("nav.kiosk >> text=Health")
    page.wait_for_url("**/kiosk/health")
    assert "not enrolled" in page.locator("#sync-state").inner_text()
    load = page.locator("#load").inner_text()
    assert "normal" in load or "high" in load
    assert "GB free" in page.locator("#disk").inner_text()
    shown = (
        page.locator("main").inner_text()
        if page.locator("main").count()
        else page.inner_text("body")
    )
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", shown)  # no raw ISO date
    assert page.locator("#shutdown").is_visible()
    page.screenshot(path=artifacts / "kiosk-health-800x480.png", full_page=True)


def test_the_idle_logout_of_the_page_itself_carries_the_token(live_server, browser, app, db):
    """The page's own idle timer posts the logout form it builds: with the CSRF token
    (a logout without it is refused), so an idle screen really logs out."""
    from appliance.db import database

    context = browser.new_context(viewport={"width": 800, "height": 480}, has_touch=True)
    try:
        page = context.new_page()
        page.clock.install()
        log_in(page, live_server.url)
        assert database.execute_sql("SELECT COUNT(*) FROM kiosk_session").fetchone()[0] == 1
        idle = app.config["SITE"].kiosk.idle_logout_seconds
        page.clock.fast_forward((idle + 10) * 1000)
        page.wait_for_url("**/kiosk/login")
        assert page.locator("#login").is_visible()
        assert database.execute_sql("SELECT COUNT(*) FROM kiosk_session").fetchone()[0] == 0
    finally:
        context.close()
