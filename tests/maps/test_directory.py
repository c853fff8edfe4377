"""The directory: a citizen proposes without JavaScript (a village chosen), a
facilitator publishes at the kiosk, the entry is listed by village with distances and
sent to central; bad input is refused naming the field; a duplicate is offered as a
correction (the merge); another box's entry arrives as place.shared."""

from __future__ import annotations

import json
import re

import pytest

from appliance.db import database
from appliance.models import OutboxEvent
from maps import directory
from maps.directory import Place, Proposal
from tests.support import csrf, kiosk_login

from .conftest import map_site


@pytest.fixture
def box(tmp_path):
    from espace import create_app

    app = create_app({"SITE": map_site(tmp_path), "TESTING": True, "SECRET_KEY": "t"})
    return app


def _form(client, **values):
    data = {
        "csrf": csrf(client),
        "name": "Association Benkadi des femmes",
        "kind": "women_association",
        "village": "Kayes N'Di",
        "activities": "Maraîchage, savon, alphabétisation",
        "contact": "Mme Diallo",
        "languages": ["bm", "fr"],
        "led_by_women": "1",
    }
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


def _post(client, **values):
    return client.post("/map/propose", data=_form(client, **values))


def _publish_all(box, who="Awa"):
    k = box.test_client()
    kiosk_login(k, who)
    page = k.get("/kiosk/map/")
    assert page.status_code == 200
    for pid in re.findall(r'id="proposal-(\d+)"', page.get_data(as_text=True)):
        r = k.post(f"/kiosk/map/{pid}/publish", data={"csrf": csrf(k)})
        assert r.status_code == 303
    return k


def _events(kind="place.saved"):
    with database.connection_context():
        return [
            json.loads(e.payload)
            for e in OutboxEvent.select().where(OutboxEvent.kind == kind).order_by(OutboxEvent.seq)
        ]


def test_propose_without_javascript_publish_at_kiosk_listed_by_village(box):
    c = box.test_client()
    form = c.get("/map/propose").get_data(as_text=True)
    assert "<script" not in form and 'name="village"' in form and "Kayes N&#39;Di" in form
    r = _post(c)
    assert r.status_code == 303 and r.headers["Location"].endswith("/map/sent")
    # pending: not listed yet
    assert "Benkadi" not in c.get("/map/directory").get_data(as_text=True)
    k = _publish_all(box)
    assert "No proposal waiting" in k.get("/kiosk/map/").get_data(as_text=True)
    page = c.get("/map/directory").get_data(as_text=True)
    assert "Association Benkadi des femmes" in page and "led by women" in page
    # listed under its village with a distance from the box (box at 14.445,-11.43)
    assert re.search(r"Kayes N&#39;Di</h2>.*Benkadi.*1\.1 km", page, re.S)
    # distance from the other village when chosen
    page = c.get("/map/directory?from=Lafiabougou").get_data(as_text=True)
    assert re.search(r"Benkadi.*3\.2 km", page, re.S)
    [ev] = _events()
    assert ev["name"] == "Association Benkadi des femmes" and ev["lat"] == 14.455
    assert ev["languages"] == ["bm", "fr"] and ev["led_by_women"] is True
    assert "client" not in json.dumps(ev)  # who proposed never leaves
    # search and kind filter
    assert "Benkadi" in c.get("/map/directory?q=benkadi").get_data(as_text=True)
    assert "Benkadi" in c.get("/map/directory?q=MARAICHAGE").get_data(as_text=True)
    assert "Benkadi" not in c.get("/map/directory?kind=school").get_data(as_text=True)
    uuid = ev["uuid"]
    detail = c.get(f"/map/place/{uuid}").get_data(as_text=True)
    assert "Maraîchage" in detail and f"correction_of={uuid}" in detail


def test_point_tapped_on_the_map_is_kept(box):
    c = box.test_client()
    assert _post(c, lat="14.4512", lon="-11.4401", village="").status_code == 303
    with database.connection_context():
        p = Proposal.get()
    assert (p.lat, p.lon) == (14.4512, -11.4401)


@pytest.mark.parametrize(
    "values, field_text",
    [
        ({"lat": "14.60", "lon": "-11.43"}, "outside the area"),
        ({"lat": "14.45", "lon": ""}, "both latitude and longitude"),
        ({"lat": "nan", "lon": "nan"}, "Place on the map"),
        ({"village": "", "lat": None, "lon": None}, "tap the map or choose a village"),
        ({"name": "<script>alert(1)</script>"}, "looks like code"),
        ({"activities": "<img src=x onerror=alert(1)>"}, "looks like code"),
        ({"contact": "javascript:alert(1)"}, "looks like code"),
        ({"activities": "x" * 10_000}, "Activities is too long"),
        ({"name": "é" * 10_000}, "Name is too long"),
        ({"name": " "}, "Name: is required"),
        ({"kind": "bank"}, "choose a kind from the list"),
        ({"name": "bad\x00name"}, "control characters"),
        ({"languages": ["xx"]}, "Languages"),
    ],
)
def test_bad_input_is_refused_naming_the_field(box, values, field_text):
    c = box.test_client()
    r = _post(c, **values)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert field_text in page and "Traceback" not in page
    assert "<script>alert" not in page and "<img" not in page
    with database.connection_context():
        assert Proposal.select().count() == 0


def test_nko_and_arabic_names_are_kept(box):
    c = box.test_client()
    assert _post(c, name="ߞߊ߬ߙߊ߲߬ ߞߏߙߏ ߓߍ߯ ߛߋ߲", kind="school").status_code == 303
    assert _post(c, name="مدرسة النور", kind="school", village="Lafiabougou").status_code == 303
    _publish_all(box)
    page = box.test_client().get("/map/directory").get_data(as_text=True)
    assert "ߞߊ߬ߙߊ߲߬" in page and "مدرسة النور" in page and "<bdi>" in page


def test_same_organisation_twice_offers_a_merge(box):
    c = box.test_client()
    assert _post(c).status_code == 303
    _publish_all(box)
    # the same name, accents and case aside, a few hundred metres away
    r = _post(c, name="association benkadi des FEMMES", lat="14.456", lon="-11.431")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="similar"' in page and "correction_of=" in page
    with database.connection_context():
        assert Proposal.select().count() == 1  # nothing kept yet
        place = Place.get()
    # "it is this one": a correction of the published entry
    form = c.get(f"/map/propose?correction_of={place.uuid}").get_data(as_text=True)
    assert "Mme Diallo" in form
    r = c.post(
        "/map/propose", data=_form(c, correction_of=place.uuid, contact="Mme Diallo, 76 00 00 00")
    )
    assert r.status_code == 303
    _publish_all(box)
    with database.connection_context():
        assert Place.select().count() == 1
        assert Place.get().contact == "Mme Diallo, 76 00 00 00"
    assert len(_events()) == 2 and _events()[1]["uuid"] == place.uuid
    # "it is a different one": confirm_new keeps it for moderation
    r = _post(c, name="Association Benkadi des femmes", confirm_new="1", village="Lafiabougou")
    assert r.status_code == 303


def test_kiosk_merges_a_duplicate_proposal(box):
    c = box.test_client()
    _post(c)
    _publish_all(box)
    # a phone that says "different" although it is the same: the kiosk offers the merge
    _post(
        c,
        name="Association Benkadi des femme",
        confirm_new="1",
        contact="",
        activities="",
        village="Kayes N'Di",
    )
    with database.connection_context():
        Place.update(activities="").execute()
        Proposal.update(activities="Teinture").where(Proposal.status == "pending").execute()
    k = box.test_client()
    kiosk_login(k)
    page = k.get("/kiosk/map/").get_data(as_text=True)
    pid = re.search(r'id="proposal-(\d+)"', page)[1]
    assert "merge" in page
    with database.connection_context():
        into = Place.get().uuid
    r = k.post(f"/kiosk/map/{pid}/merge", data={"csrf": csrf(k), "into": into})
    assert r.status_code == 303
    with database.connection_context():
        assert Place.select().count() == 1 and Place.get().activities == "Teinture"
        assert Proposal.get_by_id(int(pid)).status == "merged"
    # deciding twice is an error message, not a crash
    r = k.post(f"/kiosk/map/{pid}/publish", data={"csrf": csrf(k)})
    assert r.status_code == 303 and "error=" in r.headers["Location"]


def test_kiosk_tab_needs_a_facilitator_and_csrf(box):
    c = box.test_client()
    _post(c)
    k = box.test_client()
    assert k.get("/kiosk/map/").status_code in (302, 303)
    kiosk_login(k)
    pid = re.search(r'id="proposal-(\d+)"', k.get("/kiosk/map/").get_data(as_text=True))[1]
    r = k.post(f"/kiosk/map/{pid}/publish", data={"csrf": "wrong"})
    assert r.status_code == 400 and "The page expired" in r.get_data(as_text=True)
    with database.connection_context():
        assert Place.select().count() == 0


def test_place_shared_from_central_is_listed_and_own_entries_ignored(box):
    from appliance.sync import handlers

    c = box.test_client()
    _post(c)
    _publish_all(box)
    with database.connection_context():
        own = Place.get()
    shared = {
        "uuid": "4a1c6f1e-0000-4000-8000-000000000001",
        "name": "CSCom de Kayes N'Di",
        "kind": "health_centre",
        "village": "Kayes N'Di",
        "lat": 14.446,
        "lon": -11.434,
        "contact": "",
        "activities": "Consultations",
        "languages": ["bm"],
        "led_by_women": False,
        "led_by_youth": False,
        "removed": False,
        "updated_at": "2026-11-30T08:00:00Z",
        "origin": "yelimane",
    }
    registry = handlers.registry() if hasattr(handlers, "registry") else None
    with box.app_context(), database.connection_context():
        apply = (
            registry.get("place.shared")
            if registry is not None
            else lambda p, o: directory.receive_shared(p)
        )
        assert apply(shared, None) == "maps"
        # our own entry back from central changes nothing
        back = {**directory.payload(own), "name": "Renamed elsewhere", "origin": "test-site"}
        assert apply(back, None) == "maps"
        # an older copy of the shared entry does not overwrite the newer one
        assert (
            apply({**shared, "name": "Old name", "updated_at": "2026-01-01T00:00:00Z"}, None)
            == "maps"
        )
        # hostile text from a compromised central is not applied
        apply(
            {
                **shared,
                "uuid": "4a1c6f1e-0000-4000-8000-000000000002",
                "name": "<script>x</script>",
            },
            None,
        )
    page = c.get("/map/directory").get_data(as_text=True)
    assert "CSCom de Kayes N&#39;Di" in page and "Renamed elsewhere" not in page
    assert "Old name" not in page and "&lt;script" not in page
    assert len(_events()) == 1  # shared entries are not sent back up


def test_home_has_a_map_tile_and_the_map_page_lists_nothing_without_js(box):
    c = box.test_client()
    c.set_cookie("lang", "en")
    home = c.get("/").get_data(as_text=True)
    assert 'href="/map/"' in home
    page = c.get("/map/").get_data(as_text=True)
    assert "/map/directory" in page and "<noscript>" in page


def test_an_entry_shows_the_board_posts_that_name_it(box):
    from appliance.board import rules
    from appliance.board.models import Post
    from appliance.models import Commune

    c = box.test_client()
    _post(c)
    _publish_all(box)
    with box.app_context(), database.connection_context():
        commune = Commune.get_or_none() or Commune.create(name="Kayes")
        site = box.config["SITE"]
        for body in (
            "Quand l'association BENKADI des femmes aura-t-elle un local ?",
            "Le forage de Lafiabougou est en panne",
        ):
            rules.create_post(
                rules.Draft(
                    kind="question",
                    target=f"c:{commune.id}",
                    theme=site.board.themes[0]["id"],
                    body=body,
                ),
                None,
                site=site,
                data_dir=box.config["DATA_DIR"],
            )
        Post.update(status="published").execute()
        uuid = Place.get().uuid
        code = Post.get(Post.body.contains("local")).code
    page = c.get(f"/map/place/{uuid}").get_data(as_text=True)
    assert 'id="posts"' in page and f"/board/p/{code}" in page
    assert "forage" not in page
