"""A database busy past its wait (a class of phones saving at once) is a 503 that says
what was not saved and when to send again, in the visitor's language; any other
database error stays a 500."""

from __future__ import annotations

import sqlite3

import peewee

from appliance.db import DB_NAME, database
from appliance.models import Commune


def _writer_route(app) -> None:
    def write():
        with database.atomic():
            Commune.create(name="Diéma")
        return "saved"

    app.add_url_rule("/t/write", "t_write", write, methods=["POST"])
    app.add_url_rule("/api/t/write", "t_api_write", write, methods=["POST"])


def test_a_busy_database_is_a_503_to_send_again(app, client, db):
    _writer_route(app)
    other = sqlite3.connect(app.config["SITE"].data_dir / DB_NAME)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        db.execute_sql("PRAGMA busy_timeout = 50")  # the app's 10 s, made short
        client.set_cookie("lang", "bm")
        r = client.post("/t/write")
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        page = r.get_data(as_text=True)
        assert "Minɛn ka baara ka ca kosɛbɛ sisan." in page
        assert "Traceback" not in page and "locked" not in page
        api = client.post("/api/t/write")
        assert api.status_code == 503 and api.json["detail"] == "busy, retry"
    finally:
        other.rollback()
        other.close()
    assert Commune.select().where(Commune.name == "Diéma").count() == 0
    assert client.post("/t/write").get_data(as_text=True) == "saved"  # the lock gone


def test_another_database_error_is_still_a_500(app, client, db):
    def broken():
        raise peewee.OperationalError("no such table: nothing")

    app.add_url_rule("/t/broken", "t_broken", broken)
    r = client.get("/t/broken")
    assert r.status_code == 500 and "Retry-After" not in r.headers
