"""Every control of the visitor paths is at least 48x48 CSS px at 360x640, measured in
chromium on the hotspot address (a phone's view); lessons are readable on a phone."""

import pytest

from tests.visitor.paths import small_targets, walk

pytestmark = pytest.mark.browser


def test_no_tap_target_under_48_px(hotspot, hotspot_app, new_phone, artifacts):
    from tests.visitor.test_voice_only import record_labels

    record_labels(hotspot_app)  # speakers beside the controls are measured too
    page = new_phone()
    too_small = {}
    seen = []
    speakers = 0
    for name in walk(page, hotspot.url, lang="bm"):  # where the speakers are
        seen.append(name)
        page.screenshot(path=str(artifacts / f"visitor-{name}-360x640.png"))
        # A lesson's own links are the book's; ours are in the bar.
        found = small_targets(page, "#espace-bar" if name == "lesson" else None)
        speakers += page.locator("a.say").count()
        if found:
            too_small[name] = found
    assert len(seen) == 17
    assert speakers > 10
    assert not too_small, "\n".join(f"{k}: {v}" for k, v in too_small.items())


def test_lesson_without_viewport_under_its_own_fixed_header(hotspot, new_phone, artifacts):
    page = new_phone()
    page.goto(hotspot.url + "/library/manuel_fr/eau")
    # The injected viewport: laid out at the phone's width, not 980 px.
    assert page.evaluate("document.documentElement.clientWidth") == 360
    assert page.evaluate("getComputedStyle(document.querySelector('p')).fontSize") == "16px"
    assert page.evaluate("window.visualViewport.scale") == 1
    for scroll in (0, 800):
        page.evaluate(f"window.scrollTo(0, {scroll})")
        page.wait_for_function(f"window.scrollY >= {scroll}")
        # Each control of the bar is the element a finger lands on, above #banner.
        for sel in ("#espace-bar a[href='/']", "#espace-bar input[name=q]",
                    "#espace-bar a[href^='/languages']"):
            box = page.locator(sel).bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            assert box["y"] >= 0 and y < 640
            hit = page.evaluate(f"document.elementFromPoint({x}, {y}).closest('#espace-bar')"
                                " !== null")
            assert hit, (sel, scroll)
        page.screenshot(path=str(artifacts / f"visitor-lesson-fixed-header-{scroll}.png"))
    page.click("#espace-bar a[href='/']")
    page.wait_for_url(hotspot.url + "/")
