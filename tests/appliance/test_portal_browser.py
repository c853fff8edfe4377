"""The landing page in Debian's chromium at phone size, with and without JavaScript."""

import pytest

from espace import default_registry

pytestmark = pytest.mark.browser


def test_landing_page_on_a_phone(live_server, phone, artifacts):
    phone.goto(live_server.url + "/")
    # First visit: the language chooser, in each language's own name.
    phone.get_by_text("Bamanankan").click()
    phone.wait_for_url(live_server.url + "/")
    assert phone.locator("html").get_attribute("lang") == "bm"
    assert phone.get_by_text("Ka kalan").is_visible()
    phone.screenshot(path=artifacts / "portal-home-bm-360x640.png", full_page=True)
    # Switch to French from the header, back to the same page.
    phone.locator("header .lang").click()
    phone.get_by_text("Français").click()
    phone.wait_for_url(live_server.url + "/")
    tiles = phone.locator(".tiles a")
    assert tiles.count() == len(default_registry().tiles)  # every package's tile
    assert tiles.nth(0).inner_text().strip() == "Apprendre"
    # Readable at 360x640: no horizontal scrolling, tiles large enough to tap.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    for i in range(tiles.count()):
        box = tiles.nth(i).bounding_box()
        assert box["width"] >= 140 and box["height"] >= 120
        if i < 4:
            assert box["y"] + box["height"] <= 640  # the core four above the fold
    phone.screenshot(path=artifacts / "portal-home-fr-360x640.png")
    # Each tile leads somewhere real.
    tiles.nth(2).click()
    assert phone.locator("h1").inner_text().strip() == "Programme"


def test_landing_page_without_javascript(live_server, browser, artifacts):
    context = browser.new_context(viewport={"width": 360, "height": 640},
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        page.get_by_text("Sooninkanxanne").click()
        page.wait_for_url(live_server.url + "/")
        assert page.locator("html").get_attribute("lang") == "snk"
        assert page.locator(".tiles a").count() == len(default_registry().tiles)
        page.get_by_text("Xaranŋe").click()  # Learn, in Soninke
        page.wait_for_url(live_server.url + "/library/")
        page.screenshot(path=artifacts / "portal-library-nojs-360x640.png")
    finally:
        context.close()
