"""The donors' report (issue 15): a box runs its week with the programme's own rules
(bookings, check-ins, walk-ins, no-shows, a cancelled session), its board gets posts
and an answer, its officials are saved; it syncs to central; central's report of the
site and period shows the box's own figures. Chromium renders it at 1366x768 and
360x640 (no sideways scroll) and prints it to an A4 PDF without the menu; the
screenshots and the PDF are in the test artifacts."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import uuid

import pytest

from central import reports, service
from tests.central.harness import CentralServer, box_options, central_call, enrol_box, post
from tests.central.test_central_admin import PASSWORD

SESSION = {
    "title": "Formation",
    "kind": "training",
    "room": "Salle",
    "duration_min": 120,
    "capacity": 8,
    "reserved_women": 2,
    "reserved_youth": 1,
    "release_min": 30,
}
PEOPLE = [
    ("f", "under35"),
    ("f", "35plus"),
    ("m", "under35"),
    ("m", "35plus"),
    ("f", ""),
    ("", "under35"),
]


def run_the_week(now: dt.datetime, sessions: dict) -> dict:
    """Two sessions held, one cancelled, through the box's rules; posts, an answer six
    hours later and officials through its outbox. Returns the box's own figures (and
    puts each held session's into ``sessions``, by title)."""
    from appliance import outbox
    from appliance.db import database
    from appliance.programme import rules
    from sync_contract import kinds

    held = []
    for days, title, kind, capacity in (
        (4, "Formation compta", "training", 8),
        (2, "Débat sur l'eau", "debate", 10),
    ):
        start = (now - dt.timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)
        s = rules.create_session(dict(SESSION, title=title, kind=kind, capacity=capacity), start)
        bookings = [
            rules.book(s.id, "", "", g, a, now=start - dt.timedelta(days=1)) for g, a in PEOPLE
        ]
        door = start + dt.timedelta(minutes=10)
        for b in bookings[:4]:
            rules.check_in(b.id, now=door)
        rules.undo_check_in(bookings[3].id, now=door)  # a wrong tap, undone
        rules.mark_no_show(bookings[4].id, now=door)
        rules.book(s.id, "", "", "f", "under35", now=door, walk_in=True)
        held.append(s)
    cancelled = rules.create_session(dict(SESSION, title="Annulée"), now - dt.timedelta(days=1))
    rules.cancel_session(cancelled.id)
    # A session to come: two seats booked, one cancelled, nobody at the door yet.
    coming = rules.create_session(dict(SESSION, title="À venir"), now + dt.timedelta(days=2))
    kept, dropped = (rules.book(coming.id, "", "", g, a, now=now) for g, a in PEOPLE[:2])
    rules.cancel(coming.id, dropped.code, now=now)
    asked = (now - dt.timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    posts = [
        post(
            None,
            f"Question {i}",
            theme=theme,
            gender=g,
            age_group=a,
            commune="Nioro",
            created_at=asked.isoformat() + "+00:00",
        )
        for i, (theme, g, a) in enumerate(
            (("water", "f", "18-35"), ("health", "m", "36-60"), ("water", "f", "over60"))
        )
    ]
    with database.atomic():
        for p in posts:
            outbox.append(kinds.POST_CREATED, p)
        outbox.append(
            kinds.ANSWER_RECORDED,
            {
                "uuid": str(uuid.uuid4()),
                "post_uuid": posts[0]["uuid"],
                "official": None,
                "official_name": "Le maire",
                "body": "Réparé lundi",
                "created_at": (asked + dt.timedelta(hours=6)).isoformat() + "Z",
            },
        )
        for oid, gender in ((1, "f"), (2, "m"), (3, "m"), (1, "f")):
            outbox.append(
                kinds.OFFICIAL_SAVED,
                {
                    "id": oid,
                    "name": f"Élu {oid}",
                    "role": "conseiller",
                    "commune": "Nioro",
                    "gender": gender,
                    "created_at": asked.isoformat() + "Z",
                },
            )
    counts = [rules.attendance_counts(s) for s in held]
    sessions.update(
        {
            s.title: tuple(
                str(v)
                for v in (
                    s.capacity,
                    c["booked"],
                    c["present"],
                    c["walk_in"],
                    c["no_show"],
                    c["women"],
                    c["youth"],
                )
            )
            for s, c in zip(held, counts, strict=True)
        }
    )
    seats = sum(s.capacity for s in held)
    present = sum(c["present"] for c in counts)
    return {
        "held": str(len(held)),
        "seats": str(seats),
        "present": str(present),
        "fill": reports.percent(present / seats),
        "women_share": reports.percent(sum(c["women"] for c in counts) / present),
        "youth_share": reports.percent(sum(c["youth"] for c in counts) / present),
        "posts": "3",
        "questions": "3",
        "answered": "1 (33 %)",
        "median_hours": "6 h",
        "officials": "3",
        "officials_women": "33 %",
        "posts_women": "67 %",
    }


def figures(page) -> dict:
    return {
        k: html.unescape(v)
        for k, v in re.findall(r'data-figure="(\w+)">([^<]*)<', page.inner_html("#indicators"))
    }


@pytest.mark.browser
def test_the_report_shows_the_box_figures_on_screen_phone_and_paper(
    app, db, tmp_path, browser, artifacts
):
    from appliance.sync.client import SyncClient
    from central.db import database as central_db
    from tests.central.harness import make_central

    capp = make_central(tmp_path / "central")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with CentralServer(capp) as server:
        enrol_box(capp, server.url, app.config["DATA_DIR"])
        sessions: dict = {}
        box = run_the_week(now, sessions)
        with SyncClient(box_options(app.config["SITE"], server.url)) as client:
            assert client.run(force=True).result == "ok"
        central_call(capp, service.create_admin, "awa", PASSWORD, "regional", "Kayes")
        start = (now - dt.timedelta(days=7)).date().isoformat()
        url = f"{server.url}/report?site=nioro&from={start}&to={now.date().isoformat()}"
        try:
            for width, height in ((1366, 768), (360, 640)):
                context = browser.new_context(
                    viewport={"width": width, "height": height}, has_touch=width < 500
                )
                try:
                    page = context.new_page()
                    page.goto(server.url + "/login")
                    page.fill("input[name=username]", "awa")
                    page.fill("input[name=password]", PASSWORD)
                    page.click("main form button")
                    page.wait_for_selector("#sites")
                    page.goto(url)
                    assert figures(page) == {**box, "visits": "0", "views": "0", "bookings": "16"}
                    assert page.locator("#report-sessions tbody tr").count() == 2
                    assert "Rapport d'activité" in page.inner_text("h1")
                    assert page.locator("ul.bars li").count() >= 5 + 2  # shares, themes
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    page.screenshot(
                        path=str(artifacts / f"central-report-{width}x{height}.png"), full_page=True
                    )
                    assert scroll <= width, f"{scroll} px wide at {width}"
                    if width > 500:
                        # Each session's figures, as the box has them, in the export.
                        export = context.request.get(
                            f"{server.url}/sessions.csv?site=nioro&from={start}"
                        )
                        rows = list(
                            csv.reader(
                                io.StringIO(export.body().decode("utf-8-sig")), delimiter=";"
                            )
                        )
                        by_title = {r[2]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
                        assert by_title["À venir"]["réservées"] == "1"
                        assert by_title["À venir"]["tenue"] == "non"
                        for title, counts in sessions.items():
                            row = by_title[title]
                            assert (
                                row["places"],
                                row["réservées"],
                                row["présents"],
                                row["sans_réservation"],
                                row["absents"],
                                row["femmes"],
                                row["jeunes"],
                            ) == counts, title
                        page.emulate_media(media="print")
                        hidden = page.evaluate("""() => ['header', 'form.filters']
                            .map(s => getComputedStyle(document.querySelector(s)).display)""")
                        assert hidden == ["none", "none"]
                        pdf = page.pdf(
                            path=str(artifacts / "central-report.pdf"),
                            format="A4",
                            print_background=True,
                            prefer_css_page_size=True,
                        )
                        assert pdf.startswith(b"%PDF") and b"/MediaBox" in pdf
                        # A4 is 595 x 842 points; the report fits a few pages.
                        boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
                        assert boxes and all(
                            round(float(w)) == 595 and round(float(h)) == 842 for w, h in boxes
                        ), boxes
                        assert 1 <= len(re.findall(rb"/Type /Page\b", pdf)) <= 4
                finally:
                    context.close()
        finally:
            central_db.close()
