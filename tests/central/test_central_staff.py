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
    assert "Oui, révoquer nioro" in page and "espace sync enroll" in page
    cclient.post("/sites/nioro/revoke", data={"csrf": token})
    assert not call(lambda: Site.get(Site.slug == "nioro").revoked)
    page = cclient.get("/").get_data(as_text=True)
    assert "n&#39;est pas révoqué : confirmez d&#39;abord" in page
    cclient.post("/sites/nioro/revoke", data={"csrf": token, "confirm": "yes"})
    assert call(lambda: Site.get(Site.slug == "nioro").revoked)
    page = cclient.get("/").get_data(as_text=True)
    assert "Pour la rétablir" in page and "« Nouveau code »" in page


# In French, central's default (longer words than English).
PAGES = ("/", "/board", "/usage?days=30", "/sessions", "/report", "/audit", "/learning",
         "/directory/", "/surveys", "/login")


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
            page.click("#login button")
            page.wait_for_selector("#sites")
            for path in PAGES:
                page.goto(server.url + path)
                assert page.get_attribute("html", "lang") == "fr"
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


def test_a_voice_note_plays_on_central(call, capp, cclient):
    """Issue 15: a voice post showed only its hash; it now plays (served as audio only
    when its bytes are an Ogg or WebM container, never rendered otherwise)."""
    import hashlib

    from central import service
    from central.models import Post

    seed(call, capp)
    login(cclient, "awa")
    clip = b"OggS" + bytes(range(256)) * 8
    sha = hashlib.sha256(clip).hexdigest()
    path = service.blob_path(capp.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip)
    post = call(lambda: Post.select().first())
    call(lambda: Post.update(voice_sha256=sha).where(Post.id == post.id).execute())
    page = cclient.get(f"/board/{post.id}").get_data(as_text=True)
    assert f'src="/board/{post.id}/voice"' in page
    r = cclient.get(f"/board/{post.id}/voice")
    assert r.status_code == 200 and r.mimetype == "audio/ogg" and r.data == clip
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r.close()
    # Not audio: bytes to download, not a page.
    path.write_bytes(b"<html><script>alert(1)</script>")
    r = cclient.get(f"/board/{post.id}/voice")
    assert r.mimetype == "application/octet-stream"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    r.close()
    # Another region's admin cannot fetch it; a logged-out visitor neither.
    assert capp.test_client().get(f"/board/{post.id}/voice").status_code in (302, 401)
