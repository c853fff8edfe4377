"""Central for a regional admin all day (issue 15): revoking asks first and says how
to recover; sites come longest-silent first; every page fits a 360x640 phone (no
sideways scroll) and a 1366x768 screen, with screenshots."""

from __future__ import annotations

import pytest

from central.models import Site
from tests.central.test_central_admin import PASSWORD, login, seed


def test_revoke_asks_first_and_says_how_to_recover(call, capp, cclient):
    seed(call, capp)
    token = login(cclient, "awa")
    page = cclient.get("/").get_data(as_text=True)
    assert "Yes, revoke nioro" in page and "espace sync enroll" in page
    cclient.post("/sites/nioro/revoke", data={"csrf": token})
    assert not call(lambda: Site.get(Site.slug == "nioro").revoked)
    assert "not revoked: confirm first" in cclient.get("/").get_data(as_text=True)
    cclient.post("/sites/nioro/revoke", data={"csrf": token, "confirm": "yes"})
    assert call(lambda: Site.get(Site.slug == "nioro").revoked)
    page = cclient.get("/").get_data(as_text=True)
    assert "To recover it" in page and "New code" in page


PAGES = ("/", "/board", "/usage?days=30", "/audit")


@pytest.mark.browser
@pytest.mark.parametrize("size", [(360, 640), (1366, 768)])
def test_every_page_fits_the_screen(tmp_path, browser, artifacts, size):
    from tests.central.harness import CentralServer, central_call, make_central

    capp = make_central(tmp_path / "central")
    seed(lambda fn, *a, **k: central_call(capp, fn, *a, **k), capp)
    width, height = size
    with CentralServer(capp) as server:
        context = browser.new_context(
            viewport={"width": width, "height": height}, has_touch=width < 500
        )
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            page.fill("input[name=username]", "awa")
            page.fill("input[name=password]", PASSWORD)
            page.click("button:has-text('Log in')")
            page.wait_for_selector("#sites")
            for path in PAGES:
                page.goto(server.url + path)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                name = path.strip("/").split("?")[0] or "sites"
                page.screenshot(
                    path=str(artifacts / f"central-{name}-{width}x{height}.png"), full_page=True
                )
                assert scroll <= width, f"{path}: {scroll} px wide at {width}"
                if width < 500:
                    small = page.evaluate("""() => [...document.querySelectorAll(
                        'header a, main a, main button')].filter(e => e.offsetParent)
                        .map(e => e.getBoundingClientRect().height).filter(h => h < 44)""")
                    assert not small, f"{path}: targets under 44 px: {small}"
        finally:
            context.close()
