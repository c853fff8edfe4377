"""A database busy past its wait (a class of phones saving at once) is a 503 that says
what was not saved and when to send again, in the visitor's language; any other
database error stays a 500. The process's writers queue first come, first served
(appliance.db.WriteQueue), in transactions and out of them."""

from __future__ import annotations

import sqlite3
import threading

import peewee

from appliance import db as dbmod
from appliance.db import DB_NAME, database
from appliance.models import Commune


def _in_thread(fn):
    """``fn()``'s result (or exception) from a thread of its own, with its own
    connection, as another server thread."""
    out: list = []

    def run():
        try:
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out.append(e)
        finally:
            database.close()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


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
    # the lock gone, and the refused writer's place in the queue given back: another
    # thread writes at once (it would wait WRITE_QUEUE_SECONDS, then 503, otherwise)
    saved = _in_thread(lambda: app.test_client().post("/t/write").get_data(as_text=True))
    assert saved == "saved"


def test_a_writer_queued_past_its_wait_is_a_503_and_the_first_write_is_kept(
    app, client, db, monkeypatch
):
    _writer_route(app)
    monkeypatch.setattr(dbmod, "WRITE_QUEUE_SECONDS", 0.05)
    inside, finish = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def slow_writer():
        try:
            with database.atomic():
                Commune.create(name="Yélimané")
                inside.set()
                finish.wait()
        except BaseException as e:  # noqa: BLE001 - asserted below
            failed.append(e)
        finally:
            inside.set()
            database.close()

    first = threading.Thread(target=slow_writer)
    first.start()
    try:
        inside.wait()
        assert not failed
        r = client.post("/t/write")  # behind the slow writer, in this process's queue
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        assert client.post("/api/t/write").json["detail"] == "busy, retry"
    finally:
        finish.set()
        first.join()
    assert not failed
    names = [c.name for c in Commune.select().where(Commune.name.in_(["Yélimané", "Diéma"]))]
    assert names == ["Yélimané"]
    assert client.post("/t/write").get_data(as_text=True) == "saved"


def test_writes_outside_a_transaction_queue_too(app, db):
    """Model.create() without atomic() is one autocommit statement: it takes its turn
    like a transaction. SQLite's busy timeout 0: any two writers meeting at its lock
    would fail."""
    database.pragma("busy_timeout", 0, permanent=True)
    errors: list[BaseException] = []
    start = threading.Barrier(30)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(20):
                Commune.create(name=f"c{n}-{i}")
        except BaseException as e:  # noqa: BLE001 - asserted below
            errors.append(e)
        finally:
            database.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert Commune.select().where(Commune.name.startswith("c")).count() == 30 * 20


def test_another_database_error_is_still_a_500(app, client, db):
    def broken():
        raise peewee.OperationalError("no such table: nothing")

    app.add_url_rule("/t/broken", "t_broken", broken)
    r = client.get("/t/broken")
    assert r.status_code == 500 and "Retry-After" not in r.headers
