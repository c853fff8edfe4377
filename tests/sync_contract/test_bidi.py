"""Direction controls in what people type cannot turn the page around them: U+202E in
a post, a name or an answer is contained on the box's pages and on central's."""

from __future__ import annotations

import pytest

from sync_contract.bidi import contain

RLO, PDF, FSI, PDI = "\u202e", "\u202c", "\u2068", "\u2069"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Bonjour", "Bonjour"),
        ("مرحبا 12", "مرحبا 12"),  # Arabic without controls: left to the page's dir=auto
        (f"abc{RLO}evil", f"{FSI}abc{RLO}evil{PDF}{PDI}"),
        (f"{RLO}{RLO}x{PDF}", f"{FSI}{RLO}{RLO}x{PDF}{PDF}{PDI}"),
        (f"{PDF}{PDF}x", f"{FSI}{PDF}{PDF}x{PDI}"),
        ("\u2067x", f"{FSI}\u2067x{PDI}{PDI}"),
    ],
)
def test_contain_closes_what_a_text_opens(text, expected):
    assert contain(text) == expected


def test_central_pages_contain_a_reversed_post(tmp_path):
    from central import service
    from central.models import Post, Site
    from tests.central.harness import central_call, make_central
    from tests.central.test_central_login import PASSWORD, attempt

    app = make_central(tmp_path / "c", f"sqlite:///{tmp_path / 'c.sqlite3'}")
    central_call(app, service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    central_call(app, service.create_site, "nioro", "Espace Nioro", "Kayes", ["Nioro"])

    def add():
        Post.create(
            site=Site.get(),
            uuid="u1",
            body=f"Question {RLO}lavitsef",
            commune="Nioro",
            theme="water",
            created_at="2026-11-20T10:00:00+00:00",
        )

    central_call(app, add)
    client = app.test_client()
    assert attempt(client, "awa", PASSWORD).status_code == 302
    page = client.get("/board").get_data(as_text=True)
    assert f"{FSI}Question {RLO}lavitsef{PDF}{PDI}" in page
    assert 'dir="auto"' in page


def test_box_pages_contain_a_reversed_booking_name(app, db):
    import datetime as dt

    from appliance.programme import rules
    from tests.support import kiosk_login

    s = rules.create_session(
        {"title": "Atelier", "kind": "training", "duration_min": 60, "capacity": 3},
        rules.utcnow() + dt.timedelta(days=1),
    )
    rules.book(s.id, f"Awa{RLO}xe")
    client = app.test_client()
    kiosk_login(client)
    page = client.get(f"/kiosk/sessions/{s.id}").get_data(as_text=True)
    assert f"{FSI}Awa{RLO}xe{PDF}{PDI}" in page and "<bdi" in page
