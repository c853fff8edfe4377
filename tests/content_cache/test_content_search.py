"""Full-text search with the ZIMs' Xapian index, suggestions, usage counting."""

from __future__ import annotations

import datetime as dt
import json

from tests.support import kiosk_login


def test_full_text_search_with_snippets(lclient):
    page = lclient.get("/library/_/search?q=moustiquaire&book=sante").get_data(as_text=True)
    assert "/library/sante/lecons/moustiquaire" in page
    assert "<b>moustiquaire</b>" in page.lower()
    assert "paludisme" in page  # the snippet comes from the article's text


def test_search_across_books_of_the_visitor_language(lclient):
    # French visitor: only the French ZIM; Bambara visitor: the Bambara one.
    page = lclient.get("/library/_/search?q=savon").get_data(as_text=True)
    assert "/library/sante/" in page and "/library/kalan/" not in page
    lclient.set_cookie("lang", "bm")
    page = lclient.get("/library/_/search?q=savon").get_data(as_text=True)
    assert "/library/kalan/" in page and "/library/sante/" not in page
    page = lclient.get("/library/_/search?q=savon&lang=all").get_data(as_text=True)
    assert "/library/kalan/" in page and "/library/sante/" in page


def test_search_paging_and_nothing_found(lclient):
    page = lclient.get("/library/_/search?q=zzzqqq").get_data(as_text=True)
    assert 'class="results"' in page and "/library/sante/lecons" not in page
    p1 = lclient.get("/library/_/search?q=le&lang=all").get_data(as_text=True)
    assert p1.count("<li><a href=\"/library/") >= 2
    p9 = lclient.get("/library/_/search?q=le&lang=all&page=9").get_data(as_text=True)
    assert p9.count("<li><a href=\"/library/") == 0
    assert lclient.get("/library/_/search?q=eau&page=abc").status_code == 200


def test_search_nko_and_arabic(library_app, lclient):
    from content_cache.library import library_for

    lib = library_for(library_app.config["SITE"].content_dir)
    book = lib.book("sante")
    total, results = lib.search([book], "النظيف")
    assert total >= 1 and results[0]["path"] == "ar/الماء"
    assert any(s["path"] == "nko/ߒߞߏ" for s in lib.suggest([book], "ߒߞߏ"))


def test_suggestions_as_json(lclient):
    r = lclient.get("/library/_/suggest?q=lav&book=sante")
    data = json.loads(r.data)
    assert data and data[0]["title"] == "Le lavage des mains"
    assert data[0]["url"] == "/library/sante/lecons/lavage-des-mains"
    assert json.loads(lclient.get("/library/_/suggest?q=").data) == []


def test_usage_counted_in_memory_then_rolled_up_into_one_outbox_event(lclient, db):
    from appliance.models import OutboxEvent
    from content_cache import usage

    usage.COUNTER.flush()
    db.execute_sql("DELETE FROM content_usage")
    before = OutboxEvent.select().count()
    for _ in range(3):
        lclient.get("/library/sante/lecons/eau-potable", headers={"Accept-Encoding": "gzip"})
    lclient.get("/library/sante/media/clip.webm", headers={"Range": "bytes=0-99"})
    lclient.get("/library/sante/media/clip.webm", headers={"Range": "bytes=100-199"})  # seek
    assert OutboxEvent.select().count() == before  # no outbox row per page view
    assert usage.COUNTER.flush() == 4
    rows = db.execute_sql("SELECT book, path, lang, kind, count FROM content_usage "
                          "ORDER BY kind").fetchall()
    assert rows == [("sante", "media/clip.webm", "fr", "play", 1),
                    ("sante", "lecons/eau-potable", "fr", "view", 3)]
    assert usage.rollup() == 0  # the hour is not finished
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert usage.rollup(later) == 1
    event = OutboxEvent.select().order_by(OutboxEvent.seq.desc()).get()
    assert event.kind == "usage.content" and event.stream == "usage"
    payload = json.loads(event.payload)
    (b,) = payload["books"]
    assert (b["zim"], b["lang"], b["views"], b["plays"]) == ("sante", "fr", 3, 1)
    assert set(b) == {"zim", "lang", "views", "plays", "paths"} and "127.0.0.1" not in event.payload
    assert usage.rollup(later) == 0  # idempotent


def test_usage_rollup_job(library_app, db):
    from content_cache.jobs import usage_rollup_job

    db.execute_sql("INSERT INTO content_usage VALUES ('2020-01-01T10', 'sante', 'index', "
                   "'fr', 'view', 2)")
    with library_app.app_context():
        assert "1" in str(usage_rollup_job(library_app))


def test_kiosk_tab_shows_books_and_download_progress(library_app, lclient, db):
    from appliance.kiosk import nav

    with library_app.test_request_context():
        assert any(e == "content.kiosk_library.index" for _l, e, _i in nav())
    r = lclient.get("/kiosk/library/")
    assert r.status_code == 302 and "/kiosk/login" in r.headers["Location"]
    kiosk_login(lclient, seen=4e9)
    db.execute_sql("INSERT INTO content_download (url, name, size, received, state, "
                   "created_at, updated_at) VALUES ('http://x/a.zim', 'a', 1000, 250, "
                   "'running', '', '')")
    page = lclient.get("/kiosk/library/").get_data(as_text=True)
    assert "Kalan: jamana" in page and "25%" in page and 'http-equiv="refresh"' in page


def test_a_busy_database_never_costs_the_visitor_the_page(lclient, monkeypatch):
    from content_cache import usage

    def busy():
        raise RuntimeError("database is locked")

    monkeypatch.setattr(usage.COUNTER, "flush", busy)
    monkeypatch.setattr(usage, "FLUSH_SECONDS", 0.0)
    r = lclient.get("/library/sante/lecons/moustiquaire")
    assert r.status_code == 200
