"""The full round trip: a citizen at box A (Nioro) proposes an organisation, the
kiosk publishes it, box A syncs with a real central (waitress on loopback), central
lists it in the region's directory, box B (Yélimané) syncs and lists it, without
JavaScript, among its own entries; it is not sent back up from B."""

from __future__ import annotations

import json

from appliance.db import database
from tests.central.harness import CentralServer, enrol_box, make_central
from tests.support import csrf, kiosk_login

from .conftest import map_site
from .test_directory import _publish_all


def box_app(tmp, name):
    from espace import create_app

    doc = map_site(tmp)
    doc["site"]["id"] = name
    return create_app(
        {"SITE": doc, "SITE_DIR": tmp, "TESTING": True, "SECRET_KEY": f"secret-{name}"}
    )


def sync(app, url):
    from appliance.sync.client import SyncClient
    from tests.central.harness import box_options

    with app.app_context(), SyncClient(box_options(app.config["SITE"], url)) as client:
        return client.run(force=True)


def test_published_at_one_kiosk_listed_at_central_and_at_another_box(tmp_path):
    from central.directory import DirectoryPlace
    from maps.directory import Place

    central_app = make_central(tmp_path / "central")
    with CentralServer(central_app) as central:
        # --- box A: a phone proposes, the kiosk publishes, A syncs --------------------------
        a = box_app(tmp_path / "a", "nioro-box")
        phone = a.test_client()
        r = phone.post(
            "/map/propose",
            data={
                "csrf": csrf(phone),
                "name": "Coopérative maraîchère Jɛkafɔ",
                "kind": "cooperative",
                "village": "Lafiabougou",
                "lat": "14.4321",
                "lon": "-11.4432",
                "activities": "Oignons, gombo",
                "languages": ["bm"],
                "led_by_women": "1",
            },
        )
        assert r.status_code == 303
        kiosk = _publish_all(a)
        assert "No proposal waiting" in kiosk.get("/kiosk/map/").get_data(as_text=True)
        with a.app_context():
            database.connect(reuse_if_open=True)
            uuid = Place.get().uuid
            enrol_box(central_app, central.url, a.config["DATA_DIR"], slug="nioro-box")
        sync(a, central.url)
        database.close()

        with central_app.app_context():
            from central.db import database as cdb

            with cdb.connection_context():
                row = DirectoryPlace.get(DirectoryPlace.uuid == uuid)
                assert row.name == "Coopérative maraîchère Jɛkafɔ" and row.site.slug == "nioro-box"
                assert json.loads(row.languages) == ["bm"] and row.led_by_women

        # --- box B: syncs, lists it (no JavaScript), does not send it back -----------------
        b = box_app(tmp_path / "b", "yelimane-box")
        with b.app_context():
            database.connect(reuse_if_open=True)
            enrol_box(central_app, central.url, b.config["DATA_DIR"], slug="yelimane-box")
        sync(b, central.url)
        page = b.test_client().get("/map/directory").get_data(as_text=True)
        assert "Coopérative maraîchère Jɛkafɔ" in page and "Lafiabougou" in page
        with b.app_context():
            database.connect(reuse_if_open=True)
            shared = Place.get(Place.uuid == uuid)
            assert shared.origin == "nioro-box" and (shared.lat, shared.lon) == (14.4321, -11.4432)
            from appliance.models import OutboxEvent

            assert not OutboxEvent.select().where(OutboxEvent.kind == "place.saved").exists()
        # what arrives from central is published already: nothing waits at B's kiosk
        k = b.test_client()
        kiosk_login(k)
        assert "No proposal waiting" in k.get("/kiosk/map/").get_data(as_text=True)
        database.close()
