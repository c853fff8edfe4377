"""An announcement published with ``central announce`` (the real command, against a
real central on loopback) reaches a box by sync, shows on its home in chromium at
360x640 in the visitor's language, then disappears once it expires."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from appliance import announcements
from appliance.pins import hash_pin
from appliance.sync.client import SyncClient
from tests.central.harness import CentralServer, box_options, enrol_box, make_central
from tests.support import LiveServer, make_site

pytestmark = pytest.mark.browser

FR = "Campagne de vaccination au centre de santé mardi 1er décembre à 8 h"
BM = "Bɔlɔci jateminɛ bɛna kɛ kɛnɛyaso la tarata, desanburu tile 1, sɔgɔma wagati 8"
EXPIRES = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None) + dt.timedelta(days=2)


@pytest.fixture
def site_doc(tmp_path):
    return make_site(
        tmp_path, kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin("2468")}]}
    )


@pytest.fixture
def central(tmp_path):
    app = make_central(tmp_path / "central")
    with CentralServer(app) as server:
        server.app = app
        yield server


def central_announce(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from central.cli import main; main()",
            "announce",
            "--data-dir",
            str(data_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def shown(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        ".news p", "ps => ps.map(p => [p.lang, p.textContent, getComputedStyle(p).direction])"
    )


def test_announcement_reaches_the_home_by_sync_until_it_expires(
    app, db, central, tmp_path, phone, touchscreen, artifacts, monkeypatch
):
    enrol_box(central.app, central.url, app.config["DATA_DIR"])
    done = central_announce(
        tmp_path / "central",
        FR,
        "--lang",
        "fr",
        "--in",
        "bm",
        BM,
        "--expires",
        EXPIRES.isoformat() + "Z",
    )
    assert done.returncode == 0, done.stderr
    with SyncClient(box_options(app.config["SITE"], central.url)) as client:
        result = client.run(force=True)
    assert result.pulled >= 1, result.summary()

    server = LiveServer(app)
    try:
        phone.context.add_cookies([{"name": "lang", "value": "bm", "url": server.url}])
        phone.goto(server.url + "/")
        assert shown(phone) == [["bm", BM, "ltr"]]
        box = phone.locator(".news p").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360  # within the phone's width
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        phone.screenshot(path=str(artifacts / "announcement-home-bm.png"))
        phone.context.add_cookies([{"name": "lang", "value": "fr", "url": server.url}])
        phone.goto(server.url + "/")
        assert shown(phone) == [["fr", FR, "ltr"]]

        # And on the kiosk's Today page, at the touchscreen's 800x480, logged in by touch.
        touchscreen.goto(server.url + "/kiosk/")
        touchscreen.tap("text=Awa")
        for digit in "2468":
            touchscreen.tap(f'#pad button[data-k="{digit}"]')
        touchscreen.tap("#ok")
        touchscreen.wait_for_url(server.url + "/kiosk/")
        assert shown(touchscreen) == [["fr", FR, "ltr"]]
        assert touchscreen.evaluate("document.documentElement.scrollWidth") <= 800
        touchscreen.screenshot(path=str(artifacts / "announcement-kiosk-800x480.png"))

        # Two days later (the box's clock; the page cache follows it).
        monkeypatch.setattr(announcements, "_now", lambda: EXPIRES + dt.timedelta(seconds=1))
        phone.reload()
        assert shown(phone) == []
        assert phone.locator(".tiles a").count() >= 4  # the home is otherwise unchanged
        touchscreen.reload()
        assert shown(touchscreen) == []
        phone.screenshot(path=str(artifacts / "announcement-expired.png"))
    finally:
        server.close()


def test_central_announce_refuses_bad_options_naming_them(central, tmp_path):
    past = central_announce(tmp_path / "central", "Trop tard", "--expires", "2020-01-01")
    assert past.returncode != 0 and "--expires" in past.stderr and "past" in past.stderr
    bad = central_announce(tmp_path / "central", "Texte", "--lang", "fr<script>")
    assert bad.returncode != 0 and "--lang" in bad.stderr
    long = central_announce(tmp_path / "central", "x" * 2001)
    assert long.returncode != 0 and "characters" in long.stderr
    assert "Traceback" not in past.stderr + bad.stderr + long.stderr
