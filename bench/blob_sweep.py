"""Blob sweep benchmark: how long ``central sweep-blobs`` takes on a region's central,
and what it costs beyond listing the blob directory (the floor any sweep pays).

    .venv/bin/python bench/blob_sweep.py [--records 200000] [--blobs 20000] [--postgresql]

A central on SQLite (or on a PostgreSQL cluster started for the run) holds
``--records`` stored records (post.created, one in ten with a voice note; usage events
between them) and ``--blobs`` blobs, of which 5% no row names. Prints the time to read
every name the database holds, to list the blob directory, the whole dry run, and the
memory the dry run allocates at its peak.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.central.harness import (  # noqa: E402
    central_call,
    make_central,
    new_pg_database,
    postgres_cluster,
)

OLD = time.time() - 30 * 86400


def _fill(app, data_dir: Path, n_records: int, n_blobs: int) -> int:
    from central import service
    from central.models import Post, Record

    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n_blobs)]
    orphans = n_blobs // 20
    for sha in shas:
        path = service.blob_path(data_dir, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"OggS" + sha.encode())
        os.utime(path, (OLD, OLD))
    named = iter(shas[orphans:])

    def fill():
        from central.db import database

        site, _code = service.create_site("nioro", "Espace nioro", "Kayes", ["Nioro"])
        posts, records = [], []
        for i in range(n_records):
            if i % 10 == 0:
                sha = next(named, "")
                payload = {"uuid": f"p{i}", "body": "", "voice_sha256": sha}
                if sha and i % 20 == 0:
                    posts.append({"site": site, "uuid": f"p{i}", "voice_sha256": sha})
                kind = "post.created"
            else:
                payload, kind = {"hour": "2026-11-30T10:00Z", "books": []}, "usage.content"
            records.append(
                {
                    "site": site,
                    "seq": i + 1,
                    "uuid": f"r{i}",
                    "stream": "civic",
                    "kind": kind,
                    "payload": json.dumps(payload),
                    "created_at": "2026-11-30T10:00:00Z",
                }
            )
        with database.atomic():
            for i in range(0, len(records), 500):
                Record.insert_many(records[i : i + 500]).execute()
            for i in range(0, len(posts), 500):
                Post.insert_many(posts[i : i + 500]).execute()

    central_call(app, fill)
    return orphans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--blobs", type=int, default=20_000)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = ""
        if args.postgresql:
            url = new_pg_database(stack.enter_context(postgres_cluster()))
        run(args.records, args.blobs, url)


def run(n_records: int, n_blobs: int, url: str) -> None:
    from central import blob_sweep

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "central"
        app = make_central(data_dir, url)
        orphans = _fill(app, data_dir, n_records, n_blobs)

        t = time.perf_counter()
        names = central_call(app, blob_sweep.referenced)
        t_db = time.perf_counter() - t
        t = time.perf_counter()
        walked = sum(1 for _ in (data_dir / "blobs").glob("??/*"))
        t_walk = time.perf_counter() - t
        t = time.perf_counter()
        found = central_call(app, blob_sweep.find, data_dir, 86400.0)
        t_all = time.perf_counter() - t
        assert len(found) == orphans, (len(found), orphans)
        tracemalloc.start()
        central_call(app, blob_sweep.find, data_dir, 86400.0)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(
            f"central on {'PostgreSQL' if url else 'SQLite'}: "
            f"{n_records} records, {walked} blobs, {orphans} unreferenced"
        )
        print(f"names read from the database: {len(names)} in {t_db:.2f} s")
        print(f"blob directory listed (the floor): {t_walk:.2f} s")
        print(f"whole dry run (database, then every file's age): {t_all:.2f} s, {len(found)} found")
        print(f"memory the dry run allocates at its peak: {peak:.1f} MB")


if __name__ == "__main__":
    main()
