"""What a phone notices on a first visit: the favicon, compressed recorder scripts,
a viewport for lessons that lack one."""

import gzip

from content_cache.precompressed import VIEWPORT, with_viewport
from content_cache.views import inject_bar


def test_favicon_is_tiny_cached_and_an_icon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.mimetype == "image/x-icon"
    assert r.data[:4] == b"\x00\x00\x01\x00"  # ICO header, one image
    assert len(r.data) < 400
    assert r.cache_control.max_age >= 7 * 24 * 3600


def test_voice_js_is_compressed(client, app):
    """The board's voice.js and the box's one recorder it uses, gzipped and cached a
    year under URLs versioned by their content."""
    with app.test_request_context():
        from appliance.scripts import script_url
        from captive_portal.board import voice_js_url

        urls = {"voice.js": voice_js_url(), "recorder.js": script_url("recorder.js")}
    bodies = {}
    for name, url in urls.items():
        r = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
        assert r.status_code == 200 and "v=" in url
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.cache_control.max_age == 365 * 24 * 3600 and r.cache_control.immutable
        bodies[name] = body = gzip.decompress(r.data)
        r.close()
        assert len(r.data) < len(body) / 2, name
    assert b"EspaceRecorder" in bodies["voice.js"]
    assert b"new MediaRecorder" in bodies["recorder.js"]
    plain = client.get(urls["recorder.js"])
    assert plain.data == bodies["recorder.js"] and "Content-Encoding" not in plain.headers
    assert client.get("/js/nothing.js").status_code == 404


def test_viewport_added_only_when_missing():
    bare = b"<html><HEAD><title>t</title></head><body class=x><p>hi</p></body></html>"
    out = with_viewport(bare)
    assert out == bare.replace(b"<HEAD>", b"<HEAD>" + VIEWPORT)
    has = b'<html><head><META NAME=viewport content="width=500"></head><body></body></html>'
    assert with_viewport(has) == has
    single = b"<html><head><meta name='viewport' content='x'></head></html>"
    assert with_viewport(single) == single
    assert with_viewport(b"<body>x</body>") == VIEWPORT + b"<body>x</body>"
    assert with_viewport(b"plain") == VIEWPORT + b"plain"
    # The bar still goes right after <body ...>.
    page = inject_bar(bare, b"<div id=bar></div>")
    assert b"<body class=x><div id=bar></div><p>" in page
    assert page.count(VIEWPORT) == 1
