"""The database: pragmas that survive power cuts, migrations from each previous
schema, and an outbox sequence that never repeats or goes backwards."""

import json
import multiprocessing
import sqlite3
import threading

import pytest

from appliance import db as dbmod
from appliance import migrations, outbox
from appliance.errors import DatabaseError
from appliance.models import Commune, OutboxEvent


@pytest.fixture
def fresh(tmp_path):
    database = dbmod.open_database(tmp_path)
    yield database
    database.close()


def test_pragmas(fresh):
    assert fresh.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert fresh.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert fresh.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert fresh.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_migrate_is_idempotent_and_recorded(fresh):
    ran = migrations.migrate(fresh)
    assert ran[0] == "m0001_initial"
    assert migrations.migrate(fresh) == []
    assert migrations.applied(fresh) == [name for name, _ in migrations.available()]


def test_each_migration_upgrades_the_schema_before_it(tmp_path):
    """For every migration: build the schema as it was before it, put core rows in
    it, then upgrade to the end: the rows survive and the database is consistent.
    (Each domain's own tests migrate its rows through its own migrations.)"""
    names = [n for n, _ in migrations.available()]
    for step in range(1, len(names) + 1):
        fresh = dbmod.open_database(tmp_path / names[step - 1])
        try:
            _upgrade_from(fresh, names[step - 1])
        finally:
            fresh.close()


def _upgrade_from(fresh, before):
    migrations.migrate(fresh, upto=before)
    with fresh.atomic():
        fresh.execute_sql("INSERT INTO commune (name) VALUES ('Nioro')")
        fresh.execute_sql("INSERT INTO outbox (uuid, kind, stream, payload, created_at) "
                          "VALUES ('u1', 'test', 'civic', '{}', '2026-01-01T00:00:00')")
    migrations.migrate(fresh)
    assert fresh.execute_sql("SELECT name FROM commune").fetchall() == [("Nioro",)]
    assert fresh.execute_sql("SELECT seq FROM outbox").fetchall() == [(1,)]
    assert dbmod.integrity_check(fresh) == "ok"
    assert fresh.execute_sql("PRAGMA foreign_key_check").fetchall() == []


def test_initial_schema_from_empty(fresh):
    migrations.migrate(fresh, upto="m0001_initial")
    tables = {r[0] for r in fresh.execute_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"box_meta", "outbox", "commune", "official", "programme_session"} <= tables
    box_id = fresh.execute_sql("SELECT value FROM box_meta WHERE key='box_id'").fetchone()[0]
    assert len(box_id) == 36


def test_unknown_migration_in_database_is_refused(fresh):
    migrations.migrate(fresh)
    fresh.execute_sql("INSERT INTO schema_migrations VALUES ('m9999_future', 'x')")
    with pytest.raises(DatabaseError, match="does not know"):
        migrations.migrate(fresh)


def test_failed_migration_leaves_previous_schema(fresh, monkeypatch):
    migrations.migrate(fresh)
    import types

    broken = types.ModuleType("m9998_broken")

    def up(db):
        db.execute_sql("CREATE TABLE half_done (x)")
        db.execute_sql("THIS IS NOT SQL")

    broken.up = up
    real = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*real, ("m9998_broken", broken)])
    with pytest.raises(DatabaseError, match="m9998_broken failed"):
        migrations.migrate(fresh)
    tables = {r[0] for r in fresh.execute_sql("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables
    assert "m9998_broken" not in migrations.applied(fresh)


def test_outbox_append_needs_a_transaction(fresh):
    migrations.migrate(fresh)
    with pytest.raises(outbox.OutsideTransaction):
        outbox.append("usage.visits", {"day": "2026-11-20", "visits": 1})
    assert OutboxEvent.select().count() == 0


def test_outbox_event_and_row_commit_or_roll_back_together(fresh):
    migrations.migrate(fresh)
    with pytest.raises(RuntimeError), fresh.atomic():
        Commune.create(name="Yélimané")
        outbox.append("usage.visits", {"day": "Yélimané", "visits": 1})
        raise RuntimeError("power cut in the middle")
    assert Commune.select().count() == 0 and OutboxEvent.select().count() == 0
    with fresh.atomic():
        Commune.create(name="Yélimané")
        event = outbox.append("usage.visits", {"day": "Yélimané", "visits": 1})
    assert event.seq == 1
    assert json.loads(OutboxEvent.get().payload) == {"day": "Yélimané", "visits": 1}


def test_sequence_never_reused_after_pruning_or_rollback(fresh):
    migrations.migrate(fresh)
    with fresh.atomic():
        for i in range(3):
            outbox.append("usage.visits", {"day": "d", "visits": i})
    with pytest.raises(RuntimeError), fresh.atomic():
        outbox.append("usage.visits", {"day": "rolled back", "visits": 0})
        raise RuntimeError
    OutboxEvent.delete().execute()  # acknowledged events pruned
    with fresh.atomic():
        event = outbox.append("usage.visits", {"day": "d", "visits": 3})
    # The rolled-back number is handed out again (no gap), the pruned ones are not.
    assert event.seq == 4
    assert outbox.last_seq() == 4


def _writer_thread(data_dir, n, out):
    # Each thread has its own connection (peewee's per-thread state).
    for i in range(n):
        with dbmod.database.atomic():
            out.append(outbox.append("usage.visits", {"day": "t", "visits": i}).seq)
    dbmod.database.close()


def _writer_process(data_dir, n, queue):
    database = dbmod.open_database(data_dir)
    seqs = []
    for i in range(n):
        with database.atomic():
            seqs.append(outbox.append("usage.visits", {"day": "p", "visits": i}).seq)
    database.close()
    queue.put(seqs)


def test_sequence_under_concurrent_threads_and_processes(tmp_path, fresh):
    migrations.migrate(fresh)
    fresh.close()
    per_writer = 150
    thread_results: list[list[int]] = [[] for _ in range(4)]
    threads = [threading.Thread(target=_writer_thread, args=(tmp_path, per_writer, r))
               for r in thread_results]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer_process, args=(tmp_path, per_writer, queue))
             for _ in range(3)]
    for w in threads + procs:
        w.start()
    process_results = [queue.get(timeout=120) for _ in procs]
    for w in threads + procs:
        w.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs)
    every = [s for r in thread_results + process_results for s in r]
    total = per_writer * 7
    assert len(every) == total and len(set(every)) == total  # never repeats
    for r in thread_results + process_results:
        assert r == sorted(r)  # each writer sees its numbers only go up
    con = sqlite3.connect(tmp_path / dbmod.DB_NAME)
    seqs = [r[0] for r in con.execute("SELECT seq FROM outbox ORDER BY seq")]
    con.close()
    assert seqs == list(range(1, total + 1))  # no gaps: central acks contiguously


def test_database_proxy_is_unbound_until_opened():
    """Nothing connects at import: a fresh interpreter has no database bound."""
    import subprocess
    import sys

    code = ("import appliance.models, appliance.app, captive_portal.portal, "
            "content_cache.views, appliance.cli, appliance.worker\n"
            "from appliance.db import database\n"
            "print(database.obj is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "True"


def test_integrity_check_reports_corruption(tmp_path):
    database = dbmod.open_database(tmp_path)
    migrations.migrate(database)
    with database.atomic():
        for i in range(2000):
            outbox.append("usage.visits", {"day": "x" * 200, "visits": i})
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()
    path = tmp_path / dbmod.DB_NAME
    data = bytearray(path.read_bytes())
    data[4096 * 3: 4096 * 3 + 512] = b"\x00\xff" * 256  # scribble over a b-tree page
    path.write_bytes(bytes(data))
    database = dbmod.open_database(tmp_path)
    try:
        assert dbmod.integrity_check(database) != "ok"
    finally:
        database.close()
