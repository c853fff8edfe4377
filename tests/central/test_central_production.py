"""Central as it runs in production: gunicorn (``central serve``) streams request
bodies (a cut voice-note upload keeps what arrived) and keeps one TCP connection per
sync run; two central processes on one PostgreSQL and one blob directory, with a box
whose retries and cuts alternate between them, still store every record exactly once
and every voice note whole (issue 12 part 7, issue 19 point 8)."""

from __future__ import annotations

import hashlib
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from appliance import blobs, outbox
from appliance.db import database
from appliance.models import OutboxEvent
from appliance.sync.client import CentralRefused, SyncClient
from appliance.sync.enroll import enroll
from appliance.sync.transport import LinkError
from tests.central.harness import (
    FaultProxy,
    box_options,
    free_port,
    new_pg_database,
    post,
    postgres_cluster,
)

BIN = Path(sys.executable).parent


class Served:
    """``central serve`` (gunicorn) in a subprocess, stopped in ``close()``."""

    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = ["--database-url", database_url] if database_url else []
        self.proc = subprocess.Popen(
            [str(BIN / "central"), "serve", "--data-dir", str(data_dir), "--port",
             str(self.port), "--insecure-cookies", "--workers", "2", "--threads", "4", *db],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # readiness, not timing
            assert self.proc.poll() is None, "central did not start"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("central did not listen")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def central_cli(*args: str) -> str:
    return subprocess.run([str(BIN / "central"), *args], capture_output=True, text=True,
                          check=True).stdout


def new_site(data_dir: Path, database_url: str = "") -> str:
    db = ["--database-url", database_url] if database_url else []
    out = central_cli("create-site", "s" + uuid.uuid4().hex[:8], "--name", "S", "--region",
                      "Kayes", "--data-dir", str(data_dir), *db)
    return out.strip().rsplit(" ", 1)[-1]


def stored(data_dir: Path, database_url: str = "") -> dict:
    from central.app import create_app
    from central.db import database as cdb
    from central.models import Record

    app = create_app({"DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
                      "SECRET_KEY": "t", "TESTING": True})
    with app.app_context(), cdb.connection_context():
        return {r.seq: r.uuid for r in Record.select()}


def voice(data_dir: Path, size: int, seed: int) -> str:
    data = (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
    sha, _ = blobs.put_bytes(data_dir, data)
    with database.atomic():
        outbox.append("post.created", post(voice_sha256=sha))
        outbox.append("blob.voice", {"sha256": sha, "size": size})
    return sha


def test_gunicorn_keeps_one_connection_and_what_a_cut_upload_delivered(app, db, tmp_path):
    central_dir = tmp_path / "central"
    code = new_site(central_dir)
    served = Served(central_dir)
    try:
        enroll(served.url, code, app.config["DATA_DIR"])
        with database.atomic():
            for i in range(30):
                outbox.append("post.created", post(body=f"q{i}"))
        sha = voice(app.config["DATA_DIR"], 400_000, 1)
        site = app.config["SITE"]
        # A cut in the middle of the voice note: what arrived stays at central.
        faults = {1: ("cut_up", 200_000), 2: ("cut_up", 100)}  # and its one retry
        with FaultProxy(served.url, lambda i: faults.get(i, "pass")) as proxy, \
                pytest.raises(LinkError), SyncClient(box_options(site, proxy.url)) as c:
            c.run(force=True)
        part = central_dir / "blobs" / "partial" / f"{sha}.part"
        held = part.stat().st_size
        assert 65_536 <= held < 400_000
        # The next run: several requests, one TCP connection (werkzeug closed each).
        with FaultProxy(served.url) as proxy:
            with SyncClient(box_options(site, proxy.url)) as client:
                res = client.run(force=True)
            assert res.result == "ok" and res.blobs == 1 and res.round_trips >= 3
            assert len(proxy._threads) == 1, f"{len(proxy._threads)} connections"
            # Only what was missing went up again.
            assert proxy.up < 400_000 - held + 20_000, (proxy.up, held)
        assert (central_dir / "blobs" / sha[:2] / sha).stat().st_size == 400_000
    finally:
        served.close()


@pytest.mark.slow
def test_two_central_processes_on_one_postgresql_store_exactly_once(app, db, tmp_path):
    rng = random.Random(2026)  # the seeded fault schedule
    central_dir = tmp_path / "central"
    with postgres_cluster() as base:
        url = new_pg_database(base)
        code = new_site(central_dir, url)
        a, b = Served(central_dir, url), Served(central_dir, url)
        try:
            enroll(a.url, code, app.config["DATA_DIR"])
            site, shas = app.config["SITE"], []
            for run in range(16):
                with database.atomic():
                    for i in range(rng.randint(1, 25)):
                        outbox.append("post.created", post(body=f"{run}/{i}"))
                if run % 4 == 0:
                    shas.append(voice(app.config["DATA_DIR"], rng.randint(70_000, 300_000), run))
                schedule = [rng.choice(["pass", "duplicate", "drop_response", "hold",
                                        ("cut_up", rng.randint(100, 150_000)),
                                        ("cut_down", rng.randint(1, 400))])
                            for _ in range(4)]
                target = (a, b)[run % 2]  # retries and cuts alternate between them
                with FaultProxy(target.url, lambda i, s=schedule: s[i] if i < 4 else "pass") \
                        as proxy:
                    try:
                        with SyncClient(box_options(site, proxy.url, timeout=3)) as client:
                            client.run(force=True)
                    except (LinkError, CentralRefused):
                        pass
            for target in (a, b, a):
                with SyncClient(box_options(site, target.url)) as client:
                    assert client.run(force=True).result == "ok"
            got = stored(central_dir, url)
            mine = {e.seq: e.uuid for e in OutboxEvent.select()}
            assert got == mine  # every record, once, unaltered
            for sha in shas:
                data = (central_dir / "blobs" / sha[:2] / sha).read_bytes()
                assert hashlib.sha256(data).hexdigest() == sha
        finally:
            a.close()
            b.close()
