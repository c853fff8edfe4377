"""The admins' dashboard on SQLite and PostgreSQL: login, CSRF, roles, the board,
answers that flow down, usage charts, CSV exports, the audit log; and a browser test
in Debian's chromium."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest

from central import service
from central.models import Audit, DownEvent, Post, Site
from sync_contract import kinds, protocol
from tests.central.harness import post

PASSWORD = "correct horse battery"


def seed(call, capp):
    """Two regions, a site each, posts and usage arrived through the sync path."""
    for slug, region, commune in (("nioro", "Kayes", "Nioro"), ("kita", "Kita", "Kita")):
        key = protocol.new_private_key()
        box_id = str(uuid.uuid4())
        _s, code = call(service.create_site, slug, f"Espace {slug}", region, [commune])
        call(service.enroll, capp.config["DATA_DIR"],
             {"code": code, "box_id": box_id, "public_key": protocol.public_b64(key)})
        site = call(lambda s=slug: Site.get(Site.slug == s))
        evs = []
        for i in range(1, 6):
            evs.append([i, str(uuid.uuid4()), "post.created", f"2026-11-2{i}T10:00:00+00:00",
                        post(None, f"{slug} question {i}",
                             theme="water" if i % 2 else "health", commune=commune,
                             gender="f" if i % 2 else "m", age_group="18-35",
                             created_at=f"2026-11-2{i}T10:00:00+00:00")])
        usage = [[10 + i, str(uuid.uuid4()), "booking.created", "2026-11-20T09:00:00+00:00",
                  {"booking": str(uuid.uuid4()), "session": "s1", "status": "booked",
                   "pool": "open", "attendance": None, "walk_in": False,
                   "gender": "f" if i < 3 else "m", "age_group": "18-35" if i < 2 else "36-60"}]
                 for i in range(4)]
        call(service.exchange, site, {"push": [["civic", 0, evs + usage]],
                                      "st": {"ver": "0.1.0", "pending": 7, "disk": 900,
                                             "content": 1200}})
    call(service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    call(service.create_admin, "nat", PASSWORD, "national", None)


def login(client, username):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf": token})
    assert resp.status_code == 302
    # The session (and its CSRF token) is renewed at login.
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_login_needs_the_right_password_and_csrf(call, capp, cclient):
    seed(call, capp)
    assert cclient.get("/").status_code == 302
    assert cclient.post("/login", data={"username": "awa", "password": PASSWORD}) \
        .status_code == 400  # no CSRF token
    page = cclient.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert cclient.post("/login", data={"username": "awa", "password": "wrong password",
                                        "csrf": token}).status_code == 401
    login(cclient, "awa")
    assert cclient.get("/").status_code == 200
    stored = call(lambda: service.Admin.get(service.Admin.username == "awa").password_hash)
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_session_cookie_is_secure_by_default(tmp_path):
    from central.app import create_app

    app = create_app({"DATA_DIR": str(tmp_path / "c"), "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_regional_admin_sees_only_their_region(call, capp, cclient):
    seed(call, capp)
    login(cclient, "awa")
    page = cclient.get("/").get_data(as_text=True)
    assert "Espace nioro" in page and "Espace kita" not in page
    board = cclient.get("/board").get_data(as_text=True)
    assert "nioro question" in board and "kita question" not in board
    kita_post = call(lambda: Post.select().join(Site).where(Site.slug == "kita").first())
    assert cclient.get(f"/board/{kita_post.id}").status_code == 404


def test_national_viewer_sees_all_and_changes_nothing(call, capp, cclient):
    seed(call, capp)
    token = login(cclient, "nat")
    page = cclient.get("/").get_data(as_text=True)
    assert "Espace nioro" in page and "Espace kita" in page
    post = call(lambda: Post.select().first())
    resp = cclient.post(f"/board/{post.id}", data={"csrf": token, "official_name": "X",
                                                   "body": "Y"})
    assert resp.status_code == 403
    assert cclient.post("/sites/nioro/revoke", data={"csrf": token}).status_code == 403
    assert call(lambda: DownEvent.select().count()) == 0


def test_board_filters_and_oldest_unanswered_first(call, capp, cclient):
    seed(call, capp)
    token = login(cclient, "awa")
    first = call(lambda: Post.select().join(Site).where(Site.slug == "nioro")
                 .order_by(Post.created_at).first())
    resp = cclient.post(f"/board/{first.id}", data={"csrf": token, "official_name": "Maire",
                                                    "body": "Les travaux commencent lundi."})
    assert resp.status_code == 302
    rows = list(csv.reader(io.StringIO(cclient.get("/board.csv").get_data(as_text=True)
                                       .removeprefix("\ufeff")), delimiter=";"))
    bodies = [r[rows[0].index("texte")] for r in rows[1:]]
    assert bodies[:4] == [f"nioro question {i}" for i in (2, 3, 4, 5)]
    assert bodies[-1] == "nioro question 1"  # answered: after the unanswered ones
    water = cclient.get("/board.csv?theme=water&status=open").get_data(as_text=True)
    assert "question 3" in water and "question 2" not in water and "question 1" not in water
    down = call(lambda: DownEvent.get())
    assert down.kind == kinds.ANSWER.name and "lundi" in down.payload
    assert call(lambda: [a.action for a in Audit.select()]).count("answer.create") == 1


def test_answer_without_csrf_is_refused(call, capp, cclient):
    seed(call, capp)
    login(cclient, "awa")
    post = call(lambda: Post.select().first())
    resp = cclient.post(f"/board/{post.id}", data={"official_name": "X", "body": "Y"})
    assert resp.status_code == 400
    assert call(lambda: DownEvent.select().count()) == 0


def test_sites_usage_and_csv_exports(call, capp, cclient):
    seed(call, capp)
    login(cclient, "awa")
    raw = cclient.get("/sites.csv").data
    # A French spreadsheet: UTF-8 with a BOM, ';' between cells, French headers.
    assert raw.startswith(b"\xef\xbb\xbf")
    sites = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert sites[0][:5] == ["site", "nom", "région", "dernier_contact", "en_attente_d_envoi"]
    assert sites[1][0] == "nioro" and sites[1][5] == "0.1.0" and sites[1][6] == "900"
    page = cclient.get("/usage?days=30").get_data(as_text=True)
    assert "<svg" in page and "<script" not in page
    usage = cclient.get("/usage.csv?days=3650").get_data(as_text=True)
    assert "nioro;2026-11-20;Réservations;4;3;2" in usage
    audit = cclient.get("/audit.csv").get_data(as_text=True)
    assert "login" in audit


@pytest.mark.browser
def test_dashboard_in_chromium(tmp_path, browser, artifacts):
    from central.db import database
    from tests.central.harness import CentralServer, central_call, make_central

    # One browser run is enough: on SQLite (the views are the same on PostgreSQL).
    capp = make_central(tmp_path / "central")
    seed(lambda fn, *a, **k: central_call(capp, fn, *a, **k), capp)
    with CentralServer(capp) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            page.fill("input[name=username]", "awa")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login button")
            page.wait_for_selector("#sites")
            assert page.locator("#sites tbody tr").count() == 1
            page.screenshot(path=str(artifacts / "central-sites.png"), full_page=True)
            page.click("header a[href$='/board']")
            page.select_option("select[name=theme]", "water")
            page.click("#filters button")
            page.click("text=nioro question 1")
            page.fill("input[name=official_name]", "Le maire")
            page.fill("textarea[name=body]", "Le forage sera réparé.")
            page.click("#send-answer")
            page.wait_for_selector(".answer")
            assert "Le forage sera réparé." in page.inner_text(".answer")
            page.click("header a[href$='/usage']")
            page.wait_for_selector("section.usage svg")
            page.screenshot(path=str(artifacts / "central-usage.png"), full_page=True)
        finally:
            context.close()
            database.close()


def test_regional_audit_log_stays_in_the_region(call, capp, cclient):
    seed(call, capp)
    login(cclient, "awa")
    audit = cclient.get("/audit.csv").get_data(as_text=True)
    assert "site.enrolled;nioro box" in audit and "kita" not in audit
