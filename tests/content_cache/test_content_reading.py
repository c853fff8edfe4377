"""Reading ZIMs through the portal: catalogue, entries, redirects, bar, caching, Range."""

from __future__ import annotations

import gzip
from urllib.parse import quote

import pytest

from tests.content_cache.zims import ARABIC, LARGE_SIZE, NKO


def test_library_page_lists_books_in_visitor_language_first(lclient):
    page = lclient.get("/library/").get_data(as_text=True)
    # Visitor language is French (the default): the French book only, with a filter.
    assert "Santé au village" in page and "Kalan: jamana" not in page
    assert "/library/_/illustration/sante.png" in page
    lclient.set_cookie("lang", "bm")
    page = lclient.get("/library/").get_data(as_text=True)
    assert "Kalan: jamana" in page and "Santé au village" not in page
    # The course's mark in the visitor's language (the Bambara catalogue's "Course").
    assert '<span class="muted">Kalan</span>' in page
    page = lclient.get("/library/?lang=all").get_data(as_text=True)
    assert "Kalan: jamana" in page and "Santé au village" in page
    page = lclient.get("/library/?lang=all&tag=kalan").get_data(as_text=True)
    assert "Kalan: jamana" in page and "Santé au village" not in page
    png = lclient.get("/library/_/illustration/sante.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")


def test_mooc_shows_lessons_in_order_and_other_books_open_main_page(lclient):
    page = lclient.get("/library/kalan/").get_data(as_text=True)
    i1, i2, i3 = (page.index(t) for t in ("L&#39;eau potable", "Le lavage des mains",
                                            "La moustiquaire"))
    assert i1 < i2 < i3
    assert "/library/kalan/lecons/eau-potable" in page
    assert "Accueil" not in page.split("lessons")[1].split("</ol>")[0]  # redirect to index
    r = lclient.get("/library/sante/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/library/sante/index")


def test_article_has_our_bar_and_keeps_its_own_page(lclient):
    r = lclient.get("/library/sante/lecons/eau-potable")
    assert r.status_code == 200 and r.mimetype == "text/html"
    body = r.get_data(as_text=True)
    assert body.startswith("<!DOCTYPE html>")  # the ZIM's page, not ours around it
    assert '<body class="zim"><div id="espace-bar"' in body
    assert "bouillir l&#39;eau" in body or "bouillir l'eau" in body
    assert "<style>body{color:#222}</style>" in body
    assert r.headers["Cache-Control"].startswith("private, max-age=")
    assert "Accept-Encoding" in r.headers["Vary"]
    etag = r.headers["ETag"]
    again = lclient.get("/library/sante/lecons/eau-potable", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_non_ascii_nko_and_arabic_paths(lclient):
    for path, text in (("santé/hygiène des mains", "Le savon"), ("nko/ߒߞߏ", NKO),
                       ("ar/الماء", ARABIC)):
        r = lclient.get("/library/sante/" + quote(path))
        assert r.status_code == 200, path
        assert text in r.get_data(as_text=True)


def test_redirects_go_to_canonical_path(lclient):
    r = lclient.get("/library/sante/vieux/chemin")
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/library/sante/lecons/eau-potable")
    assert lclient.get("/library/sante/nothing-here").status_code == 404
    assert lclient.get("/library/unknown/index").status_code == 404


def test_gzip_on_the_wire_and_from_the_hot_cache(lclient):
    headers = {"Accept-Encoding": "gzip, deflate"}
    first = lclient.get("/library/sante/grand-article", headers=headers)
    assert first.headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(first.data).decode()
    assert text.count("Le paludisme tue.") == 20000 and 'id="espace-bar"' in text
    assert len(first.data) < len(text) // 20
    second = lclient.get("/library/sante/grand-article", headers=headers)  # fast path
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    plain = lclient.get("/library/sante/grand-article")
    assert "Content-Encoding" not in plain.headers
    assert plain.get_data(as_text=True) == text


def test_hot_cache_is_bounded():
    from content_cache.views import HotCache

    cache = HotCache(max_bytes=1000)
    for i in range(50):
        cache.put((str(i), "fr", True), (None, "", b"x" * 100, [], ""))
    assert cache.size <= 1000 and cache.get(("0", "fr", True)) is None
    assert cache.get(("49", "fr", True)) is not None


@pytest.mark.parametrize("path", ["media/clip.webm", "media/petit.ogg", "data/large.bin"])
def test_range_requests(lclient, path):
    full = lclient.get(f"/library/sante/{path}")
    assert full.status_code == 200 and full.headers["Accept-Ranges"] == "bytes"
    data = full.data
    size = len(data)
    assert int(full.headers["Content-Length"]) == size
    r = lclient.get(f"/library/sante/{path}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.data == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{size}"
    r = lclient.get(f"/library/sante/{path}", headers={"Range": "bytes=-100"})
    assert r.status_code == 206 and r.data == data[-100:]
    r = lclient.get(f"/library/sante/{path}", headers={"Range": f"bytes={size - 5}-"})
    assert r.status_code == 206 and r.data == data[-5:]
    r = lclient.get(f"/library/sante/{path}", headers={"Range": f"bytes=100-{size * 2}"})
    assert r.status_code == 206 and r.data == data[100:]
    r = lclient.get(f"/library/sante/{path}", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{size}"
    r = lclient.get(f"/library/sante/{path}", headers={"Range": "bytes=-0"})
    assert r.status_code == 416
    r = lclient.get(f"/library/sante/{path}", headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 200 and r.data == data  # several ranges: the whole entity
    r = lclient.get(f"/library/sante/{path}",
                    headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert r.status_code == 200
    r = lclient.get(f"/library/sante/{path}",
                    headers={"Range": "bytes=0-1", "If-Range": full.headers["ETag"]})
    assert r.status_code == 206
    r = lclient.head(f"/library/sante/{path}", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers["Content-Length"] == "10" and r.data == b""


def test_large_media_is_streamed_from_the_file(library_app):
    from content_cache.library import library_for

    lib = library_for(library_app.config["SITE"].content_dir)
    book = lib.book("sante")
    r = lib.resolve(book, "data/large.bin")
    assert r.size == LARGE_SIZE and r.direct is not None
    offset, size = r.direct
    with open(book.path, "rb") as f:
        f.seek(offset)
        assert f.read(4096) == bytes(r.item.content[:4096])


@pytest.mark.parametrize("raw", [
    "/library/sante/../sante.zim", "/library/sante/lecons/../index",
    "/library/sante/lecons%2Feau-potable", "/library/sante/lecons%2feau-potable",
    "/library/sante/%2Fetc/passwd", "/library/sante//etc/passwd",
    "/library/sante/lecons/%2e%2e/index", "/library/sante/a%5c..%5cb",
    "/library/..%2F..%2Fetc/passwd", "/library/sante/./index",
    # hostile bytes and text: a lone surrogate, invalid UTF-8, overlong dots, SQL, length
    "/library/sante/%ED%A0%80", "/library/sante/%FF%FE", "/library/sante/%C0%AE%C0%AE/x",
    "/library/sante/lecons/eau-potable'%20OR%201=1--", "/library/sante/" + "x" * 5000,
])
def test_path_traversal_refused(lclient, raw):
    r = lclient.get(raw)
    assert r.status_code in (400, 404), raw
    assert "root:" not in r.get_data(as_text=True)
    assert 'id="espace-bar"' not in r.get_data(as_text=True)


def test_many_phones_streaming_media_do_not_load_whole_items(library_app):
    """12 phones download the 3 MB entry at once through waitress: memory grows by
    far less than 12 copies of it (it is streamed from the file)."""
    import http.client
    import threading

    import psutil

    from tests.content_cache.zims import close_live
    from tests.support import LiveServer

    server = LiveServer(library_app, threads=4)
    host, port = server.url.removeprefix("http://").split(":")
    proc = psutil.Process()
    sizes: list[int] = []

    def phone():
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/library/sante/data/large.bin")
        resp = conn.getresponse()
        n = 0
        while chunk := resp.read(16384):
            n += len(chunk)
        sizes.append(n)
        conn.close()

    try:
        phone()  # warm: archive opened, caches filled
        before = proc.memory_info().rss
        threads = [threading.Thread(target=phone) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        grown = proc.memory_info().rss - before
    finally:
        close_live(server)
    assert sizes == [LARGE_SIZE] * 13
    assert grown < 12 * LARGE_SIZE // 3, f"RSS grew by {grown / 2**20:.1f} MB"


def test_text_entries_ignore_range_so_gzip_stays_correct(lclient):
    r = lclient.get("/library/sante/s/style.css",
                    headers={"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.mimetype == "text/css"
    assert gzip.decompress(r.data) == b"body{color:#222}\n" * 100


def test_fast_path_builds_other_articles_without_flask_once_host_is_known(lclient,
                                                                          monkeypatch):
    from content_cache import views

    views.FastPath.good_hosts.clear()
    calls = []
    real, real_packed = views._article, views._packed
    monkeypatch.setattr(views, "_article", lambda b, r: calls.append(r.path) or real(b, r))
    monkeypatch.setattr(views, "_packed",  # the same view, text from the store
                        lambda b, p, k: calls.append(p) or real_packed(b, p, k))
    gz = {"Accept-Encoding": "gzip"}
    assert lclient.get("/library/sante/lecons/eau-potable", headers=gz).status_code == 200
    assert calls == ["lecons/eau-potable"]
    r = lclient.get("/library/sante/lecons/moustiquaire", headers=gz)
    assert r.status_code == 200 and calls == ["lecons/eau-potable"]  # not through Flask
    text = gzip.decompress(r.data).decode()
    assert 'id="espace-bar"' in text and "paludisme" in text
    assert "next=%2Flibrary%2Fsante%2Flecons%2Fmoustiquaire" in text
    # Redirects, traversal and encoded paths still go to the app.
    assert lclient.get("/library/sante/vieux/chemin").status_code == 302
    assert lclient.get("/library/sante/lecons/../index").status_code == 400
    assert lclient.get("/library/sante/" + quote("santé/hygiène des mains")).status_code == 200
    assert len(calls) == 2
    # Another Host has not been through the app yet: it goes through Flask.
    lclient.get("/library/sante/lecons/lavage-des-mains", headers={"Host": "other.example"})
    assert calls[-1] == "lecons/lavage-des-mains"
