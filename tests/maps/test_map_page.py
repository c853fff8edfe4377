"""The map page in Debian's chromium at 360x640 with touch: the vendored Leaflet and
protomaps-leaflet load the area's PMTiles by HTTP Range requests (counted, with their
bytes), the map pans and zooms, a tap proposes an organisation at that point; the
page's JavaScript stays under 100 kB gzipped; screenshots in test-artifacts/maps/."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import pytest

from appliance.db import database
from maps.directory import Place, Proposal
from tests.support import ARTIFACTS, LiveServer

from .conftest import map_site

VENDOR = Path(__file__).resolve().parents[2] / "maps" / "static"
SHOTS = ARTIFACTS / "maps"


def test_page_javascript_is_under_100_kb_gzipped_and_licences_are_shipped():
    files = [
        VENDOR / "vendor/leaflet-1.9.4/leaflet.js",
        VENDOR / "vendor/protomaps-leaflet-5.1.0/protomaps-leaflet.js",
        VENDOR / "map.js",
    ]
    total = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    assert total <= 100_000, total
    for d in ("leaflet-1.9.4", "protomaps-leaflet-5.1.0"):
        assert (VENDOR / "vendor" / d / "LICENSE").stat().st_size > 500
    readme = (VENDOR / "vendor/README.md").read_text()
    assert "1.9.4" in readme and "5.1.0" in readme and "OpenStreetMap" in readme


@pytest.fixture
def live_box(tmp_path, built_map):
    from espace import create_app

    doc = map_site(tmp_path)
    doc["site"]["default_language"] = "en"
    app = create_app({"SITE": doc, "TESTING": True, "SECRET_KEY": "t"})
    target = Path(doc["storage"]["data_dir"]) / "maps" / "area.pmtiles"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built_map, target)
    from appliance.programme.models import Session

    with app.app_context(), database.connection_context():
        Place.create(
            uuid="11111111-1111-4111-8111-111111111111",
            name="CSCom de Kayes N'Di",
            name_key="cscom de kayes n di",
            kind="health_centre",
            village="Kayes N'Di",
            lat=14.446,
            lon=-11.434,
            updated_at="2026-11-30T08:00:00Z",
        )
        Session.create(
            title="Atelier cartographie",
            kind="training",
            starts_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1),
            duration_min=60,
            capacity=20,
        )
    with LiveServer(app) as server:
        yield app, server


@pytest.mark.browser
def test_phone_loads_pans_zooms_and_taps_to_propose(live_box, phone):
    app, server = live_box
    SHOTS.mkdir(parents=True, exist_ok=True)
    ranges: list[tuple[str, int]] = []

    def on_response(resp):
        if resp.url.endswith("/map/area.pmtiles"):
            ranges.append(
                (
                    resp.request.headers.get("range", ""),
                    int(resp.headers.get("content-length", "0")),
                    resp.status,
                )
            )

    phone.on("response", on_response)
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    phone.goto(server.url + "/map/")
    phone.wait_for_function(
        "window.espaceMap && document.querySelectorAll('.leaflet-tile-loaded').length > 0",
        timeout=60_000,
    )
    phone.wait_for_function("document.querySelectorAll('.pin').length >= 2")
    assert not errors, errors
    assert ranges and all(r.startswith("bytes=") and status == 206 for r, _, status in ranges)
    first_requests, first_bytes = len(ranges), sum(n for _, n, _ in ranges)
    size = Path(app.config["DATA_DIR"], "maps", "area.pmtiles").stat().st_size
    # every read is a bounded range (the test area is a few kB, so they may add up to
    # more than the file: the header, directory and tiles overlap little but repeat)
    assert all(n <= size for _, n, _ in ranges)
    print(f"first view: {first_requests} range requests, {first_bytes} bytes of {size}")
    phone.screenshot(path=str(SHOTS / "map-first-view-360x640.png"))

    # zoom in by touch on the + button, then pan by dragging
    z0 = phone.evaluate("espaceMap.getZoom()")
    phone.tap(".leaflet-control-zoom-in")
    # the zoom animation over (a drag during it is ignored by Leaflet)
    phone.wait_for_function(f"espaceMap.getZoom() === {z0 + 1} && !espaceMap._animatingZoom"
                            " && !document.querySelector('.leaflet-zoom-anim')")
    c0 = phone.evaluate("[espaceMap.getCenter().lat, espaceMap.getCenter().lng]")
    box = phone.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    phone.mouse.move(cx, cy)
    phone.mouse.down()
    phone.mouse.move(cx - 120, cy - 60, steps=8)
    phone.mouse.up()
    c1 = phone.evaluate("[espaceMap.getCenter().lat, espaceMap.getCenter().lng]")
    assert c1 != c0
    phone.wait_for_function("document.querySelectorAll('.leaflet-tile-loaded').length > 0")
    assert len(ranges) > first_requests  # the new view's tiles came by range too
    phone.screenshot(path=str(SHOTS / "map-zoomed-panned-360x640.png"))

    # a tap on the map offers to propose an organisation there
    phone.touchscreen.tap(cx + 30, cy + 40)
    phone.wait_for_selector("#propose-here", timeout=10_000)
    phone.screenshot(path=str(SHOTS / "map-tap-to-propose-360x640.png"))
    href = phone.get_attribute("#propose-here", "href")
    phone.tap("#propose-here")
    phone.wait_for_selector("#point")
    phone.fill("#name", "Groupement des jeunes de Kayes N'Di")
    phone.select_option("#kind", "youth_group")
    phone.screenshot(path=str(SHOTS / "map-propose-form-360x640.png"), full_page=True)
    phone.tap("#send")
    phone.wait_for_url("**/map/sent")
    with app.app_context(), database.connection_context():
        p = Proposal.get()
    assert p.name == "Groupement des jeunes de Kayes N'Di" and p.kind == "youth_group"
    assert f"lat={p.lat:.6f}" in href and f"lon={p.lon:.6f}" in href
    w, s, e, n = app.config["SITE"].map.area
    assert s <= p.lat <= n and w <= p.lon <= e


@pytest.mark.browser
def test_kiosk_tab_publishes_by_touch_at_800x480(tmp_path, touchscreen):
    from espace import create_app
    from tests.support import csrf, kiosk_login

    app = create_app({"SITE": map_site(tmp_path), "TESTING": True, "SECRET_KEY": "t"})
    phone = app.test_client()
    assert (
        phone.post(
            "/map/propose",
            data={
                "csrf": csrf(phone),
                "name": "Association des jeunes de Lafiabougou",
                "kind": "youth_group",
                "village": "Lafiabougou",
                "led_by_youth": "1",
            },
        ).status_code
        == 303
    )
    k = app.test_client()
    kiosk_login(k)
    cookie = k.get_cookie("session")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with LiveServer(app) as server:
        touchscreen.context.add_cookies(
            [{"name": "session", "value": cookie.value, "url": server.url}]
        )
        touchscreen.goto(server.url + "/kiosk/map/")
        touchscreen.screenshot(path=str(SHOTS / "kiosk-map-proposals-800x480.png"))
        button = touchscreen.locator("button.publish")
        bb = button.bounding_box()
        assert bb["height"] >= 48 and bb["width"] >= 48  # a finger's target
        button.tap()
        touchscreen.wait_for_selector("#message")
        touchscreen.screenshot(path=str(SHOTS / "kiosk-map-published-800x480.png"))
        assert "No proposal waiting" in touchscreen.content()
    with app.app_context(), database.connection_context():
        assert Place.get().name == "Association des jeunes de Lafiabougou"
