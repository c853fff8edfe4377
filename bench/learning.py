"""Learning benchmark: progress writes per second with 30 phones, bytes synced per
learner per week, and a course's media served by byte ranges to 30 phones.

    .venv/bin/python bench/learning.py [--phones 30] [--writes 40] [--seeks 40] [--writes-only]

1. Writes: ``--phones`` threads, each a learner on their own phone, each recording
   ``--writes`` progress events (opened, listened, answered) through
   ``learning.rules.record`` on a real SQLite file (WAL, synchronous=FULL): each write
   is one transaction with the lesson's row and the learner's snapshot for central.
   Each write's time (queueing included) is kept: the median and the slowest say
   whether writers are served in turn (appliance.db.WriteQueue) or some starve.
2. Bytes per learner per week: a week of a learner who comes three times (10 writes:
   open, listen, open, answer, then open, listen, open twice more; only the 4 writes
   that change something send a snapshot), for 30 new learners, as rows of one push
   (canonical JSON, zstd, as the sync compresses a batch; frame headers and signature
   not counted), divided by 30.
   Only the latest snapshot counts at central, but every one is sent.
3. Media with Range: the course's lesson audio made 8 MiB, the box behind waitress on
   loopback (tests.support.LiveServer, 8 threads as the box runs), ``--phones`` phones
   each on one kept-alive connection asking ``--seeks`` random 64 KiB ranges (a phone
   seeking in a lesson, or resuming a cut download), then each fetching the whole file
   once. Every answer's status and bytes are checked against the file.

4. Remote coaching, measured on the wire: a fresh box enrolled at a real central (on
   loopback, SQLite), a group of 30 new learners, each with the week of part 2 and one
   recording of their reading (``--recording-seconds`` of Ogg Opus at 24 kbit/s, as the
   page records, with random packets: nothing compresses); one sync run counts the bytes
   on the socket (``RunResult.bytes_up``, headers included). Then a trainer answers each
   with a mark and a voice note (``--answer-seconds``), and the next sync counts the
   bytes down (the answers and the voice notes' pieces), both divided by 30.

What we compare against: a group of 30 at the espace writes a few times a minute each;
the sync's daily budget is counted in MB.
"""

from __future__ import annotations

import argparse
import statistics
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
    ap.add_argument("--seeks", type=int, default=40)
    ap.add_argument("--recording-seconds", type=float, default=60.0)
    ap.add_argument("--answer-seconds", type=float, default=20.0)
    ap.add_argument("--writes-only", action="store_true", help="part 1 alone")
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
        took: list[float] = []
        start = threading.Barrier(args.phones + 1)

        def phone(learner) -> None:
            try:
                database.connect(reuse_if_open=True)
                start.wait()
                for i in range(args.writes):
                    lesson, event, answers = steps[i % len(steps)]
                    t = time.perf_counter()
                    rules.record(course, learner, lesson, event, answers)
                    took.append(time.perf_counter() - t)
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
            f"{total / elapsed:.0f} writes/s ({len(errors)} errors); a write took "
            f"{statistics.median(took) * 1000:.0f} ms (median), "
            f"{sorted(took)[int(len(took) * 0.99)] * 1000:.0f} ms (99th), "
            f"{max(took) * 1000:.0f} ms (slowest kept)"
        )
        if errors:
            import traceback

            where = traceback.extract_tb(errors[0].__traceback__)[-6:]
            print(
                f"  first error: {errors[0]!r} at",
                " < ".join(f"{f.name}:{f.lineno}" for f in reversed(where)),
            )

        with database.connection_context():
            OutboxEvent.delete().execute()
            week = [
                ("a", "opened", None),
                ("a", "listened", None),
                ("chat", "opened", None),
                ("chat", "answered", {0: 1}),
            ]
            # new learners: those of part 1 have done these lessons already, and a
            # write that changes nothing sends no snapshot
            week_learners = [rules.new_learner(f"W{i}", "f" if i % 2 else "m") for i in range(30)]
            for learner in week_learners:
                for _day in range(3):
                    for lesson, event, answers in week[:3] if _day else week:
                        rules.record(course, learner, lesson, event, answers)
            rows = [
                [e.seq, e.uuid, e.kind, e.created_at, e.payload]
                for e in OutboxEvent.select().order_by(OutboxEvent.seq)
            ]
        body = protocol.compress(protocol.canonical({"push": [["civic", 0, rows]]}))
        n = len(week_learners)
        print(
            f"sync: {len(rows)} snapshots for {n} learners' week = {len(body)} bytes "
            f"compressed, {len(body) / n:.0f} bytes per learner per week"
        )
        database.close()
        if args.writes_only:
            return
        media(tmp, app, args.phones, args.seeks)
        coaching_week(tmp / "coaching", args.recording_seconds, args.answer_seconds)


def media(tmp: Path, app, phones: int, seeks: int) -> None:
    import http.client
    import random

    from learning import catalogue
    from learning import course as course_mod
    from tests.learning.course_folder import write_course
    from tests.support import LiveServer

    content = app.config["SITE"].content_dir
    folder = write_course(tmp / "big")
    audio = random.Random(1).randbytes(8 * 1024 * 1024)
    (folder / "media" / "a.ogg").write_bytes(audio)
    (content / "alpha-1.zim").unlink()
    course_mod.build(folder, content / "alpha-1.zim")
    assert catalogue.course(content, "alpha-1") is not None
    url = "/learn/media/alpha-1/media/a.ogg"
    window = 64 * 1024
    errors: list[str] = []
    counts = {"ranges": 0, "bytes": 0, "whole": 0}
    lock = threading.Lock()
    with LiveServer(app, threads=8) as server:
        host, port = server.url.rsplit("/", 1)[1].split(":")
        start = threading.Barrier(phones + 1)

        def phone(seed: int) -> None:
            rnd = random.Random(seed)
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            got = 0
            try:
                start.wait()
                for _ in range(seeks):
                    at = rnd.randrange(0, len(audio) - window)
                    conn.request("GET", url, headers={"Range": f"bytes={at}-{at + window - 1}"})
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 206 or body != audio[at : at + window]:
                        errors.append(f"range {at}: {r.status}")
                    got += len(body)
                start.wait()
                conn.request("GET", url)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or body != audio:
                    errors.append(f"whole: {r.status}")
                with lock:
                    counts["ranges"] += seeks
                    counts["bytes"] += got
                    counts["whole"] += len(body)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=phone, args=(i,)) for i in range(phones)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        start.wait()
        t1 = time.perf_counter()
        for t in threads:
            t.join()
        t2 = time.perf_counter()
    ranged = t1 - t0
    print(
        f"media ranges: {counts['ranges']} x 64 KiB by {phones} phones in {ranged:.2f} s = "
        f"{counts['ranges'] / ranged:.0f} requests/s, "
        f"{counts['bytes'] / ranged / 2**20:.0f} MiB/s ({len(errors)} errors)"
    )
    print(
        f"media whole: {phones} x {len(audio) // 2**20} MiB in {t2 - t1:.2f} s = "
        f"{counts['whole'] / (t2 - t1) / 2**20:.0f} MiB/s"
    )
    if errors:
        print("errors:", errors[:5])


def recording(seconds: float, seed: int) -> bytes:
    """Ogg Opus as MediaRecorder makes it at 24 kbit/s: 50 packets of 60 bytes a second,
    random after the TOC byte (speech does not compress), a page a second."""
    import random
    import struct

    rnd = random.Random(seed)

    def page(body: bytes, lacing: list[int], granule: int, seq: int, htype: int) -> bytes:
        head = struct.pack("<BBqIIIB", 0, htype, granule, 7, seq, 0, len(lacing))
        return b"OggS" + head + bytes(lacing) + body

    opus_head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    pages = [page(opus_head, [19], 0, 0, 2), page(b"OpusTags" + bytes(8), [16], 0, 1, 0)]
    packets = int(seconds * 50)
    for p in range(0, packets, 50):
        n = min(50, packets - p)
        body = b"".join(b"\xfc" + rnd.randbytes(59) for _ in range(n))
        last = p + n >= packets
        pages.append(page(body, [60] * n, 312 + (p + n) * 960, p // 50 + 2, 4 if last else 0))
    return b"".join(pages)


def coaching_week(tmp: Path, recording_seconds: float, answer_seconds: float) -> None:
    import logging

    from appliance import create_app
    from appliance.db import database
    from appliance.sync.client import SyncClient
    from central import coaching as central_coaching
    from central.models import Admin
    from learning import catalogue, coaching, rules
    from learning import course as course_mod
    from tests.central.harness import (
        CentralServer,
        box_options,
        central_call,
        enrol_box,
        make_central,
    )
    from tests.learning.course_folder import write_course
    from tests.support import make_site

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per piece otherwise
    tmp.mkdir(parents=True)
    app = create_app(
        {"SITE": make_site(tmp), "SITE_DIR": tmp, "TESTING": True, "SECRET_KEY": "bench"}
    )
    site = app.config["SITE"]
    site.content_dir.mkdir(parents=True, exist_ok=True)
    course_mod.build(write_course(tmp / "course"), site.content_dir / "alpha-1.zim")
    central_app = make_central(tmp / "central")
    n = 30
    week = [
        ("a", "opened", None),
        ("a", "listened", None),
        ("chat", "opened", None),
        ("chat", "answered", {0: 1}),
    ]
    with CentralServer(central_app) as central, app.app_context():
        database.connect(reuse_if_open=True)
        enrol_box(central_app, central.url, site.data_dir)
        with SyncClient(box_options(site, central.url)) as client:
            client.run(force=True)  # enrolment's own first exchange, not counted
        course = catalogue.course(site.content_dir, "alpha-1")[1]
        group = rules.new_group("Bench", "alpha-1")
        sizes = []
        for i in range(n):
            learner = rules.new_learner(f"C{i}", "f" if i % 2 else "m")
            rules.join(group, learner)
            for day in range(3):
                for lesson, event, answers in week[:3] if day else week:
                    rules.record(course, learner, lesson, event, answers)
            data = recording(recording_seconds, i)
            sizes.append(len(data))
            coaching.submit(course, learner, "lire", 0, data, site.data_dir)
        up = down = 0
        runs = 0
        with SyncClient(box_options(site, central.url)) as client:
            while True:  # until the outbox and the blobs are all at central
                res = client.run(force=True)
                up, down, runs = up + res.bytes_up, down + res.bytes_down, runs + 1
                if res.pushed == 0 and res.blobs == 0:
                    break
        print(
            f"coaching up: {n} learners' week + one {recording_seconds:.0f} s recording each "
            f"({sum(sizes) / n / 1000:.0f} kB) = {up} bytes up, {down} down in {runs} runs: "
            f"{(up + down) / n / 1000:.1f} kB per learner per week "
            f"(the recording is {sum(sizes) / (up + down) * 100:.0f} % of it)"
        )

        def answer_all() -> int:
            trainer = Admin.create(username="bench-trainer", password_hash="-", role="trainer")
            for k, work in enumerate(central_coaching.Work.select()):
                central_coaching.answer(
                    trainer, work, 3, recording(answer_seconds, 1000 + k), tmp / "central"
                )
            return central_coaching.Work.select().count()

        with central_app.test_request_context():
            answered = central_call(central_app, answer_all)
        up = down = 0
        runs = 0
        with SyncClient(box_options(site, central.url)) as client:
            while runs < 20:
                res = client.run(force=True)
                up, down, runs = up + res.bytes_up, down + res.bytes_down, runs + 1
                if res.pulled == 0 and res.downloaded == 0:
                    break
        print(
            f"coaching down: {answered} answers with a {answer_seconds:.0f} s voice note = "
            f"{down} bytes down, {up} up in {runs} runs: {(up + down) / n / 1000:.1f} kB per "
            "learner per week"
        )
        database.close()


if __name__ == "__main__":
    main()
