"""Central's survey pages in chromium, in French, on a phone (360x640) and a desk
screen (1366x768): the list of forms, a form's table and the forwarding page fit without sideways
scroll, their links and buttons are touch-sized on the phone, a refused token shows as
such, and the token never appears (screenshots in test-artifacts)."""

from __future__ import annotations

import pytest

from tests.central.harness import CentralServer, central_call, make_central
from tests.support import free_port

from .test_forward import KOBO_TOKEN, PASSWORD, _configure, _two_regions

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(360, 640), (1366, 768)])
def test_survey_pages_fit_the_screen_in_french(tmp_path, browser, artifacts, size):
    from central.surveys_targets import run_all

    capp = make_central(tmp_path / "central")
    central_call(capp, _two_regions, capp)
    central_call(
        capp,
        _configure,
        "Kayes",
        kind="kobo",
        server=f"http://127.0.0.1:{free_port()}",
        token=KOBO_TOKEN,
    )
    central_call(capp, run_all, capp.config["DATA_DIR"], 5.0)  # a dead port: failed
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
            page.locator("form button").first.click()
            page.wait_for_selector("#sites")
            for path, name in (
                ("/surveys", "surveys"),
                ("/surveys/menage", "survey-table"),
                ("/surveys/forwarding", "forwarding"),
            ):
                page.goto(server.url + path)
                page.screenshot(
                    path=str(artifacts / f"central-{name}-{width}x{height}.png"), full_page=True
                )
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{path}: {scroll} px wide at {width}"
                assert KOBO_TOKEN not in page.content()
                if width < 500:
                    small = page.evaluate("""() => [...document.querySelectorAll(
                        'main a, main button, main input, main select')]
                        .filter(e => e.offsetParent && e.type !== 'hidden'
                                && e.type !== 'checkbox')
                        .map(e => e.getBoundingClientRect().height).filter(h => h < 44)""")
                    assert not small, f"{path}: targets under 44 px: {small}"
            assert "Transfert vers ODK Central ou KoboToolbox" in page.inner_text("h1")
            last = page.locator("#last-" + str(central_call(capp, _kayes_id))).inner_text()
            assert "échoué" in last and "arrêté" in last
        finally:
            context.close()


def _kayes_id() -> int:
    from central.models import Region

    return Region.get(Region.name == "Kayes").id
