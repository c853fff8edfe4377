"""The box's own scripts and stylesheets (appliance.scripts): every URL a visitor or kiosk
page names carries the version of the file's bytes, so a phone that cached last week's
script a year gets the new one after an upgrade; served gzipped, 304 to a phone that has
it."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest
from flask import Blueprint

from tests.learning.course_folder import COACHING_MANIFEST, write_course
from tests.support import csrf, kiosk_login

ROOT = Path(__file__).resolve().parents[2]
BOX_PACKAGES = (
    "appliance",
    "captive_portal",
    "content_cache",
    "learning",
    "maps",
    "secure_origin",
    "sms",
    "surveys",
)
ASSET = re.compile(
    r'<script[^>]*\ssrc="([^"]+)"|<link[^>]*rel="(?:stylesheet|modulepreload)"'
    r'[^>]*href="([^"]+)"|<link[^>]*href="([^"]+)"[^>]*rel="stylesheet"'
)
# How a template may name a script or a stylesheet: all of these version the URL.
VERSIONED = re.compile(
    r"\{\{ (url_for\('[\w.]*static'|script_url\(|voice_js_url\(\)|"
    r"assets\.url\()"
)


def assets_of(html: str) -> list[str]:
    return [next(u for u in m.groups() if u) for m in ASSET.finditer(html)]


def check_served(client, url: str) -> None:
    """``url`` names the current bytes of its file: a year's immutable cache, gzip when
    asked for text, a 304 for the ETag."""
    if url.startswith("/forms/assets/"):
        return  # surveys.web_assets: versioned in the path, tested in tests/surveys
    assert re.search(r"[?&]v=[0-9a-f]{10}\b", url), url
    r = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert r.status_code == 200, url
    assert r.cache_control.immutable and r.cache_control.max_age == 365 * 24 * 3600, url
    assert r.headers["Content-Encoding"] == "gzip", url
    body = gzip.decompress(r.data)
    assert url.split("v=")[1][:10] == hashlib.sha256(body).hexdigest()[:10], url
    etag = r.headers["ETag"]
    r.close()
    again = client.get(url, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and not again.data, url
    assert again.cache_control.immutable, url


def test_every_box_template_names_its_scripts_and_styles_through_a_versioned_url():
    """A literal path in a template would escape the versioning: a template names a
    script or a stylesheet only through url_for of a static folder (versioned by
    appliance.scripts), script_url, voice_js_url or the surveys' assets.url."""
    seen = 0
    for package in BOX_PACKAGES:
        for path in (ROOT / package).rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for m in re.finditer(r'<script[^>]*\ssrc="([^"]*)"|<link[^>]*href="([^"]*)"', text):
                tag = m.group(0)
                if m.group(2) is not None and not re.search(r"stylesheet|modulepreload", tag):
                    continue
                seen += 1
                assert VERSIONED.match(m.group(1) or m.group(2)), f"{path}: {tag}"
    assert seen >= 15


def test_visitor_and_kiosk_pages_name_current_versions(app, client, db, tmp_path):
    from appliance.board import rules as board
    from appliance.models import Commune
    from learning import course
    from learning import rules as learning

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    course.build(write_course(tmp_path / "alpha", COACHING_MANIFEST), content / "alpha-1.zim")
    learner = learning.new_learner("Awa", "f", "under35")
    post = board.create_post(
        board.Draft(
            kind="question",
            target=f"c:{Commune.get().id}",
            theme="water",
            body="Quand le forage ?",
            gender="f",
            age_group="18-35",
        ),
        None,
        site=app.config["SITE"],
        data_dir=app.config["DATA_DIR"],
    )
    phone = app.test_client()
    phone.post("/learn/enter", data={"csrf": csrf(phone), "code": learner.code})
    kiosk = app.test_client()
    kiosk_login(kiosk)
    pages = {
        "board/new": (client, "/board/new"),
        "map": (client, "/map/"),
        "lesson": (phone, "/learn/0/alpha-1/a"),
        "lesson with work": (phone, "/learn/0/alpha-1/lire"),
        "kiosk answer": (kiosk, f"/kiosk/moderation/{post.code}/answer"),
        "kiosk label": (kiosk, "/kiosk/labels/edit?key=msg:Send&lang=bm"),
    }
    names = set()
    for name, (c, path) in pages.items():
        r = c.get(path)
        assert r.status_code == 200, name
        urls = assets_of(r.get_data(as_text=True))
        assert urls, name
        for url in urls:
            check_served(c, url)
            names.add(url.split("?")[0].rsplit("/", 1)[1])
    assert {
        "secure-origin.js",
        "recorder.js",
        "voice.js",
        "listened.js",
        "work.js",
        "map.js",
        "leaflet.js",
        "leaflet.css",
        "protomaps-leaflet.js",
    } <= names


def _with_package(site_doc, tmp_path, static: Path):
    """The box's app with one more package whose static folder is ``static``."""
    import espace

    bp = Blueprint(
        "extra", __name__, static_folder=str(static), static_url_path="/s", url_prefix="/extra"
    )
    reg = espace.build([*espace.contributors(), ("extra", lambda reg: reg.blueprint(bp))])
    return espace.create_app(
        {"SITE": site_doc, "SITE_DIR": tmp_path, "TESTING": True, "SECRET_KEY": "t"}, registry=reg
    )


def test_new_bytes_get_a_new_url_and_old_urls_are_short_lived(site_doc, tmp_path):
    """A package's script and stylesheet: the version is the bytes' (read at start),
    changes with them; a URL without it is cached an hour, revalidated by ETag; an
    image is not gzipped again; nothing outside the folder is served."""
    from appliance.db import database

    static = tmp_path / "extra-static"
    (static / "img").mkdir(parents=True)
    (static / "app.js").write_text("console.log('first');\n" * 40)
    (static / "app.css").write_text("body { color: #123; }\n" * 40)
    (static / "img" / "dot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tmp_path / "secret.txt").write_text("not served")
    try:
        app = _with_package(site_doc, tmp_path, static)
        with app.test_request_context():
            from flask import url_for

            first = {n: url_for("extra.static", filename=n) for n in ("app.js", "app.css")}
            assert url_for("extra.static", filename="missing.js") == "/extra/s/missing.js"
        c = app.test_client()
        for url in first.values():
            check_served(c, url)
        css = c.get(first["app.css"])
        assert css.mimetype == "text/css" and b"color: #123" in css.data  # no gzip asked
        assert "Content-Encoding" not in css.headers

        unversioned = c.get("/extra/s/app.js", headers={"Accept-Encoding": "gzip"})
        assert unversioned.cache_control.max_age == 3600
        assert not unversioned.cache_control.immutable
        assert (
            c.get(
                "/extra/s/app.js", headers={"If-None-Match": unversioned.headers["ETag"]}
            ).status_code
            == 304
        )
        png = c.get("/extra/s/img/dot.png", headers={"Accept-Encoding": "gzip"})
        assert png.mimetype == "image/png" and "Content-Encoding" not in png.headers
        assert png.data.endswith(bytes(range(256)))
        for bad in ("/extra/s/../secret.txt", "/extra/s/%2e%2e/secret.txt", "/extra/s/nope.js"):
            assert c.get(bad).status_code == 404, bad

        # The upgrade: new bytes, the app started again.
        (static / "app.js").write_text("console.log('second');\n" * 40)
        database.close()
        app = _with_package(site_doc, tmp_path, static)
        with app.test_request_context():
            second = {n: url_for("extra.static", filename=n) for n in ("app.js", "app.css")}
        assert second["app.js"] != first["app.js"]
        assert second["app.css"] == first["app.css"]
        c = app.test_client()
        check_served(c, second["app.js"])
        assert b"second" in c.get(second["app.js"]).data
        # A page loaded before the upgrade names the old version: it gets the new bytes,
        # cached an hour only.
        stale = c.get(first["app.js"])
        assert b"second" in stale.data and stale.cache_control.max_age == 3600
    finally:
        database.close()


@pytest.mark.parametrize("endpoint", ["core_script", "board.voice_js"])
def test_the_box_scripts_routes_answer_304(client, app, endpoint):
    from appliance.scripts import script_url
    from captive_portal.board import voice_js_url

    with app.test_request_context():
        url = script_url("recorder.js") if endpoint == "core_script" else voice_js_url()
    check_served(client, url)


def test_the_static_folders_are_small_enough_to_keep_in_memory(app):
    """appliance.scripts keeps every file it serves in memory, with its gzip."""
    from appliance.scripts import _folder

    folders = {_folder(app, e) for e in app.view_functions} - {None}
    assert len(folders) >= 5  # the core's, the board's, learning, maps, secure_origin
    total = sum(p.stat().st_size for f in folders for p in Path(f).rglob("*") if p.is_file())
    assert total < 1_000_000, total
