"""A phone (Chromium, 360x640) opens the library, reads, searches, seeks in a video."""

from __future__ import annotations

import shutil

import pytest

from tests.content_cache.zims import close_live
from tests.support import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(params=["zim", "precompressed"])
def served(request, app, video_zim, mooc_zim):
    """The library on a live server; pages read from the ZIMs, then from their
    precompressed stores (gzip spliced with our bar: Chromium must decode it)."""
    from content_cache import library, views
    from content_cache.precompressed import build

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    for z in (video_zim, mooc_zim):
        shutil.copy(z, content / z.name)
        if request.param == "precompressed":
            assert build(content / z.name, content, z.stem).state == "complete"
    media_requests: list[tuple[str, str, int]] = []

    @app.after_request
    def _log(resp):
        from flask import request

        if request.path.endswith(".webm"):
            media_requests.append((request.path, request.headers.get("Range", ""),
                                   resp.status_code))
        return resp

    server = LiveServer(app)
    try:
        yield server, media_requests
    finally:
        close_live(server)
        library.forget(content)
        views.HOT.clear()


def test_phone_reads_searches_and_seeks_video(served, phone, artifacts):
    server, media_requests = served
    phone.context.add_cookies([{"name": "lang", "value": "fr", "url": server.url}])
    phone.goto(server.url + "/library/")
    assert phone.locator("ul.books li").count() == 1  # the French book only
    assert phone.evaluate("document.querySelector('ul.books img').naturalWidth") == 48
    phone.screenshot(path=str(artifacts / "content-library-phone.png"))
    # Suggestions as the visitor types.
    phone.fill("form.zsearch input[name=q]", "mous")
    phone.wait_for_selector("ul.sugg a")
    assert "moustiquaire" in phone.inner_text("ul.sugg").lower()
    phone.click("ul.books a")
    phone.wait_for_url("**/library/video/index")
    phone.click("text=L'eau potable")
    phone.wait_for_url("**/library/video/lecons/eau-potable")
    assert phone.locator("#espace-bar").is_visible()
    assert "bouillir" in phone.inner_text("body")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "the bar must not make the page wider than the phone"
    phone.screenshot(path=str(artifacts / "content-article-phone.png"))
    # Search from our bar, without JavaScript needed.
    phone.fill("#espace-bar input[name=q]", "moustiquaire")
    phone.press("#espace-bar input[name=q]", "Enter")
    phone.wait_for_url("**/library/_/search?**")
    phone.wait_for_selector("ol.results a")
    assert "La moustiquaire" in phone.inner_text("ol.results")
    phone.screenshot(path=str(artifacts / "content-search-phone.png"))
    phone.click("ol.results a")
    phone.wait_for_url("**/lecons/moustiquaire")
    # The video: metadata, then a seek far into it.
    phone.goto(server.url + "/library/video/lecons/video")
    phone.wait_for_function("document.getElementById('v').readyState >= 1")
    duration = phone.evaluate("document.getElementById('v').duration")
    assert duration > 10
    phone.evaluate("""() => new Promise(ok => { const v = document.getElementById('v');
        v.addEventListener('seeked', () => ok(), {once: true}); v.currentTime = 9; })""")
    phone.wait_for_function("document.getElementById('v').readyState >= 2")
    assert abs(phone.evaluate("document.getElementById('v').currentTime") - 9) < 0.5
    phone.screenshot(path=str(artifacts / "content-video-phone.png"))
    assert media_requests, "the video was never requested"
    assert all(status in (200, 206) for _p, _r, status in media_requests)
    assert any(r.startswith("bytes=") and status == 206 for _p, r, status in media_requests)
