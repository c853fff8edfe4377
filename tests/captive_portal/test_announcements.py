"""Announcements from central on the portal's home and the kiosk: escaped, in the
visitor's language when given, until they expire; the landing page stays small and its
per-language cache follows them."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re

import pytest

from appliance import announcements
from appliance.db import database
from appliance.pins import hash_pin
from appliance.sync import state
from tests.support import csrf, make_site

NOW = dt.datetime(2026, 11, 30, 8, 0)


@pytest.fixture
def site_doc(tmp_path):
    return make_site(
        tmp_path, kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin("2468")}]}
    )


@pytest.fixture
def clock(monkeypatch):
    now = {"t": NOW}
    monkeypatch.setattr(announcements, "_now", lambda: now["t"])
    return now


def pull(down_id: int, payload: dict, received_at: dt.datetime = NOW) -> None:
    """Store an announcement as the sync does when it pulls one."""
    with database.atomic():
        state.SyncInbox.insert(
            id=down_id,
            kind="announcement.created",
            payload=json.dumps(payload, ensure_ascii=False),
            received_at=received_at.replace(tzinfo=dt.UTC).isoformat(),
        ).execute()


def news(page: str) -> list[tuple[str, str]]:
    """(lang attribute, text) of each announcement shown."""
    section = re.search(r'<section class="news"[^>]*>(.*?)</section>', page, re.S)
    if section is None:
        return []
    return re.findall(r'<p(?: lang="([^"]*)")? dir="auto">(.*?)</p>', section.group(1), re.S)


def home(client, lang="fr") -> str:
    client.set_cookie("lang", lang)
    return client.get("/").get_data(as_text=True)


def test_shown_until_it_expires_and_the_cached_page_follows(client, db, clock):
    assert news(home(client)) == []
    pull(
        7,
        {
            "uuid": "a",
            "body": "Réunion du conseil samedi à 10 h",
            "expires_at": "2026-12-02T18:00:00Z",
        },
    )
    first = client.get("/")
    assert news(first.get_data(as_text=True)) == [("", "Réunion du conseil samedi à 10 h")]
    etag = first.headers["ETag"]
    # Unchanged: the cached page, a 304 for the phone that has it.
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 304
    pull(8, {"uuid": "b", "body": "Vaccination mardi", "expires_at": "2026-12-01T00:00:00"})
    second = client.get("/", headers={"If-None-Match": etag})
    assert second.status_code == 200
    assert [t for _l, t in news(second.get_data(as_text=True))] == [
        "Vaccination mardi",
        "Réunion du conseil samedi à 10 h",
    ]
    clock["t"] = dt.datetime(2026, 12, 1, 0, 0)  # the newer one expires
    page = client.get("/", headers={"If-None-Match": second.headers["ETag"]})
    assert page.status_code == 200
    assert [t for _l, t in news(page.get_data(as_text=True))] == [
        "Réunion du conseil samedi à 10 h"
    ]
    assert page.headers["ETag"] == etag  # the same page as before it came
    clock["t"] = dt.datetime(2026, 12, 2, 18, 0, 1)
    assert news(home(client)) == []


def test_without_expiry_shown_for_the_default_days(client, db, clock):
    pull(1, {"uuid": "a", "body": "Bienvenue"}, received_at=NOW)
    assert news(home(client)) == [("", "Bienvenue")]
    clock["t"] = NOW + dt.timedelta(days=announcements.DEFAULT_DAYS, seconds=1)
    assert news(home(client)) == []


def test_in_the_visitors_language_when_given(client, db, clock):
    pull(
        1,
        {
            "uuid": "a",
            "body": "Le centre ferme lundi",
            "lang": "fr",
            "bodies": {"bm": "Sanga ka datugu tɛnɛn", "ar": "يغلق المركز يوم الاثنين"},
        },
    )
    assert news(home(client, "bm")) == [("bm", "Sanga ka datugu tɛnɛn")]
    assert news(home(client, "fr")) == [("fr", "Le centre ferme lundi")]
    # Soninke not given: the body as written, marked as French for screen readers.
    assert news(home(client, "snk")) == [("fr", "Le centre ferme lundi")]


def test_escaped_and_hostile_payloads_never_break_the_page(client, db, clock):
    pull(1, {"uuid": "a", "body": "<script>alert(1)</script><img src=x onerror=alert(2)>"})
    pull(2, {"uuid": "b", "body": "ߒߞߏ ߞߊ߲ ߘߐ߫", "lang": 'nqo" onmouseover="x'})
    database.execute_sql(
        "INSERT INTO sync_inbox (id, kind, payload, received_at) VALUES "
        "(3, 'announcement.created', '{not json', ?)",
        (NOW.isoformat(),),
    )
    pull(4, {"uuid": "c", "body": "", "expires_at": "not a date"})
    pull(5, {"uuid": "d", "body": ["a", "list"], "bodies": "nope"})
    page = home(client)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'onmouseover="x' not in page
    texts = [t for _l, t in news(page)]
    assert "ߒߞߏ ߞߊ߲ ߘߐ߫" in texts and len(texts) == 3  # the list body shown as text
    assert client.get("/").status_code == 200


def test_landing_page_stays_under_30_kb(client, db, clock):
    nko = "ߒߞߏ ߞߊ߲ ߘߐ߫ " * 200  # 3 bytes a letter, far past the 500 kept
    for i in range(1, 9):
        pull(i, {"uuid": str(i), "body": nko, "bodies": {"fr": "é" * 3000}})
    client.set_cookie("lang", "fr")
    r = client.get("/", headers={"Accept-Encoding": "identity"})
    body = r.get_data()
    shown = news(body.decode())
    assert len(shown) == announcements.MAX_SHOWN
    assert all(len(t) <= announcements.MAX_CHARS + 1 for _l, t in shown)
    assert len(body) <= 30 * 1024, len(body)
    zipped = client.get("/", headers={"Accept-Encoding": "gzip"}).get_data()
    assert len(gzip.decompress(zipped)) == len(body)


def test_on_the_kiosk_today_page(client, db, clock):
    assert (
        client.post(
            "/kiosk/login", data={"name": "Awa", "pin": "2468", "csrf": csrf(client)}
        ).status_code
        == 303
    )
    assert news(client.get("/kiosk/").get_data(as_text=True)) == []
    pull(1, {"uuid": "a", "body": "Formation des animateurs jeudi", "lang": "fr"})
    page = client.get("/kiosk/").get_data(as_text=True)  # the cached page follows
    assert news(page) == [("fr", "Formation des animateurs jeudi")]
    clock["t"] = NOW + dt.timedelta(days=30)
    assert news(client.get("/kiosk/").get_data(as_text=True)) == []
