"""The visitor's landing page: language first, big tiles, tiny, no JavaScript needed."""

import gzip
import re

from appliance import create_app
from appliance.db import database
from tests.support import make_site


def test_first_visit_asks_the_language_in_each_languages_own_name(client):
    page = client.get("/").get_data(as_text=True)
    for name in ("Français", "Bamanankan", "Sooninkanxanne", "English"):
        assert name in page
    assert 'href="/lang/bm?next=/"' in page


def test_language_choice_sticks_in_a_cookie(client):
    r = client.get("/lang/bm?next=/")
    assert r.status_code == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("lang=bm;") and "Max-Age=31536000" in cookie
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="bm" dir="ltr">' in page
    assert "Ka kalan" in page  # "Learn" in Bambara


def test_bambara_catalogue_covers_the_about_page(client):
    """Fallbacks to French (in <span lang="fr">) are tested in tests/visitor."""
    client.get("/lang/bm")
    page = client.get("/about").get_data(as_text=True)
    assert "Communes desservies" not in page
    assert "Kominiw minnu bɛ dɛmɛ sɔrɔ" in page


def test_home_tiles_in_french(client):
    client.set_cookie("lang", "fr")
    page = client.get("/").get_data(as_text=True)
    for label, href in (("Apprendre", "/library/"), ("Interpeller vos élus", "/board/"),
                        ("Programme", "/programme/"), ("À propos de cet espace", "/about")):
        assert re.search(rf'href="{re.escape(href)}"[^>]*>.*?{label}</a>', page, re.S), label


def test_unknown_or_unoffered_language_is_404_and_no_open_redirect(client):
    assert client.get("/lang/xx").status_code == 404
    assert client.get("/lang/ff").status_code == 404  # known to Espace, not offered here
    for target in ("https://evil.example/", "//evil.example", "javascript:alert(1)"):
        r = client.get("/lang/fr", query_string={"next": target})
        assert r.headers["Location"] == "/"


def test_right_to_left_language(tmp_path):
    site = make_site(tmp_path, site={"languages": ["fr", "mey"]})
    app = create_app({"SITE": site, "SITE_DIR": tmp_path, "SECRET_KEY": "x"})
    try:
        client = app.test_client()
        client.set_cookie("lang", "mey")
        page = client.get("/").get_data(as_text=True)
        assert '<html lang="mey" dir="rtl">' in page
    finally:
        database.close()


def test_first_load_is_small_and_self_contained(client):
    client.set_cookie("lang", "fr")
    r = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(r.data) <= 30 * 1024
    html = gzip.decompress(r.data).decode()
    # No external fonts, scripts, stylesheets or images: everything is inline.
    assert not re.search(r'<(script|link|img)\b', html)
    assert not re.search(r'(src|href)="https?://', html)
    assert "@import" not in html and "url(" not in html


def test_errors_are_pages_in_the_visitors_language_never_tracebacks(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    client = app.test_client()
    client.set_cookie("lang", "fr")
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "Cette page n'existe pas." in r.get_data(as_text=True)
    r = client.get("/boom")
    body = r.get_data(as_text=True)
    assert r.status_code == 500
    assert "Traceback" not in body and "secret detail" not in body
    assert "Rien de ce que vous avez enregistré n'est perdu" in body


def test_too_large_body_gets_a_friendly_413(app):
    from flask import request

    @app.post("/echo")
    def echo():
        return str(len(request.get_data()))

    client = app.test_client()
    client.set_cookie("lang", "fr")
    r = client.post("/echo", data=b"x" * (4 * 1024 * 1024),
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 413
    assert "trop gros" in r.get_data(as_text=True)


def test_health_api(client):
    body = client.get("/api/health").get_json()
    assert body["site_id"] == "test-site" and body["outbox_length"] == 0
    assert body["disk_free_mb"] > 0
