"""Learning benchmark: progress writes per second with 30 phones, and bytes synced per
learner per week.

    .venv/bin/python bench/learning.py [--phones 30] [--writes 40]

1. Writes: ``--phones`` threads, each a learner on their own phone, each recording
   ``--writes`` progress events (opened, listened, answered) through
   ``learning.rules.record`` on a real SQLite file (WAL, synchronous=FULL): each write
   is one transaction with the lesson's row and the learner's snapshot for central.
2. Bytes per learner per week: a week of a learner who comes three times (10 writes:
   open, listen, open, answer, then open, listen, open twice more; so 10 snapshots in
   the outbox), for 30 learners, as rows of one push (canonical JSON, zstd, as the
   sync compresses a batch; frame headers and signature not counted), divided by 30.
   Only the latest snapshot counts at central, but every one is sent.

What we compare against: a group of 30 at the espace writes a few times a minute each;
the sync's daily budget is counted in MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phones", type=int, default=30)
    ap.add_argument("--writes", type=int, default=40)
    args = ap.parse_args()

    from appliance import create_app
    from appliance.db import database
    from appliance.models import OutboxEvent
    from learning import catalogue, rules
    from learning import course as course_mod
    from sync_contract import protocol
    from tests.learning.course_folder import write_course
    from tests.support import make_site

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = create_app(
            {"SITE": make_site(tmp), "SITE_DIR": tmp, "TESTING": True, "SECRET_KEY": "bench"}
        )
        content = app.config["SITE"].content_dir
        content.mkdir(parents=True, exist_ok=True)
        course_mod.build(write_course(tmp / "course"), content / "alpha-1.zim")
        course = catalogue.course(content, "alpha-1")[1]
        with database.connection_context():
            learners = [
                rules.new_learner(f"L{i}", "f" if i % 2 else "m") for i in range(args.phones)
            ]
        steps = [
            ("a", "opened", None),
            ("a", "listened", None),
            ("chat", "answered", {0: 0}),
            ("chat", "answered", {0: 1}),
        ]
        errors: list[BaseException] = []
        start = threading.Barrier(args.phones + 1)

        def phone(learner) -> None:
            try:
                database.connect(reuse_if_open=True)
                start.wait()
                for i in range(args.writes):
                    lesson, event, answers = steps[i % len(steps)]
                    rules.record(course, learner, lesson, event, answers)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                database.close()

        threads = [threading.Thread(target=phone, args=(x,)) for x in learners]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        total = args.phones * args.writes
        print(
            f"progress writes: {total} by {args.phones} phones in {elapsed:.2f} s = "
            f"{total / elapsed:.0f} writes/s ({len(errors)} errors)"
        )

        with database.connection_context():
            OutboxEvent.delete().execute()
            week = [
                ("a", "opened", None),
                ("a", "listened", None),
                ("chat", "opened", None),
                ("chat", "answered", {0: 1}),
            ]
            for learner in learners[:30]:
                for _day in range(3):
                    for lesson, event, answers in week[:3] if _day else week:
                        rules.record(course, learner, lesson, event, answers)
            rows = [
                [e.seq, e.uuid, e.kind, e.created_at, e.payload]
                for e in OutboxEvent.select().order_by(OutboxEvent.seq)
            ]
        body = protocol.compress(protocol.canonical({"push": [["civic", 0, rows]]}))
        n = min(30, len(learners))
        print(
            f"sync: {len(rows)} snapshots for {n} learners' week = {len(body)} bytes "
            f"compressed, {len(body) / n:.0f} bytes per learner per week"
        )
        database.close()


if __name__ == "__main__":
    main()
