"""A class of 60 phones saving progress at once, through the real app on a real SQLite
file, while another connection keeps read transactions open: every write is kept,
exactly once, and no phone is told "not kept, send again" (503).

SQLite's busy timeout is made 0 here: a writer of the web process that had to wait in
SQLite's busy handler would fail at once. The app's writers queue in the process
(appliance.db.WriteQueue) and never meet one another at SQLite's lock, however the
threads are scheduled; without that queue this test fails on its first collision."""

from __future__ import annotations

import sqlite3
import threading

from appliance.db import DB_NAME, database
from appliance.models import OutboxEvent
from learning.models import Learner, Progress
from tests.support import csrf

PHONES = 60


def _phone(app, code: str, statuses: list[int]) -> None:
    phone = app.test_client()
    token = csrf(phone)
    try:
        steps = [
            ("post", "/learn/enter", {"csrf": token, "code": code}),
            ("get", "/learn/0/alpha-1/a", None),  # opened
            ("post", "/learn/0/alpha-1/a/listened", {"csrf": token, "js": "1"}),
            ("get", "/learn/0/alpha-1/chat", None),  # opened
            ("post", "/learn/0/alpha-1/chat/answer", {"csrf": token, "q0": "1"}),
            ("get", "/learn/0/alpha-1/a", None),  # seen again: nothing new to write
        ]
        for method, url, data in steps:
            r = getattr(phone, method)(url, data=data)
            statuses.append(r.status_code)
    finally:
        database.close()  # this thread's connection


def _reader(path, done: threading.Event, reads: list[int]) -> None:
    """Another connection (a page being rendered, a sync reading the outbox) that is
    always inside a read transaction, and so also keeps the WAL from being reset."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        while not done.is_set():
            con.execute("BEGIN")
            reads.append(con.execute("SELECT count(*) FROM learning_progress").fetchone()[0])
            done.wait(0.002)  # pacing only: the transaction stays open meanwhile
            con.execute("COMMIT")
    finally:
        con.close()


def test_sixty_phones_saving_at_once_are_all_kept_exactly_once(course_app):
    from learning import rules

    app = course_app
    with app.app_context(), database.connection_context():
        codes = [rules.new_learner(f"P{i}", "f" if i % 2 else "m").code for i in range(PHONES)]
        # every new connection of every thread: fail at once rather than wait in SQLite
        database.pragma("busy_timeout", 0, permanent=True)

    done = threading.Event()
    reads: list[int] = []
    reader = threading.Thread(
        target=_reader, args=(app.config["SITE"].data_dir / DB_NAME, done, reads)
    )
    statuses: list[list[int]] = [[] for _ in codes]
    phones = [
        threading.Thread(target=_phone, args=(app, code, statuses[i]))
        for i, code in enumerate(codes)
    ]
    reader.start()
    try:
        for t in phones:
            t.start()
        for t in phones:
            t.join()
    finally:
        done.set()
        reader.join()

    assert reads, "the reader never held a read transaction"
    refused = [(codes[i], s) for i, s in enumerate(statuses) if s != [302, 200, 204, 200, 302, 200]]
    assert not refused, f"{len(refused)} phones not answered as usual: {refused[:3]}"
    with database.connection_context():
        for learner in Learner.select().where(Learner.code.in_(codes)):
            rows = {p.lesson: p for p in Progress.select().where(Progress.learner == learner)}
            assert sorted(rows) == ["a", "chat"]
            assert rows["a"].listened_at and rows["chat"].done_at and rows["chat"].score == 1
        # one snapshot per write that changed something (a opened, a listened, chat
        # opened, chat answered), none lost and none twice, in one unbroken sequence
        events = list(
            OutboxEvent.select()
            .where(OutboxEvent.kind == "learning.progress")
            .order_by(OutboxEvent.seq)
        )
        assert len(events) == 4 * PHONES
        seqs = [e.seq for e in OutboxEvent.select().order_by(OutboxEvent.seq)]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
