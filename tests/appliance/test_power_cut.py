"""Power cuts are normal: SIGKILL the serving process while it acknowledges writes,
many times over; every acknowledged event is there afterwards and SQLite's
integrity check passes.

SIGKILL tests what the process can lose (its buffers, an open transaction); the
fsync side of a real power loss is what ``synchronous=FULL`` in appliance/db.py is
for (WAL fsynced before COMMIT returns).
"""

import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.support import free_port

SERVER = r'''
import sys
from flask import request
from appliance import create_app, outbox
from appliance.db import database
from appliance.models import Commune
from waitress import serve

app = create_app({"SITE_FILE": sys.argv[1]})

@app.post("/_test/write")
def write():
    key = request.form["uuid"]
    with database.atomic():
        Commune.create(name=key)
        event = outbox.append("usage.visits", {"day": key, "visits": 1})
    return {"seq": event.seq}

serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=4, _quiet=True)
'''


def _wait_ready(url, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/api/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def _client(url, acked, stop):
    while not stop.is_set():
        key = str(uuid.uuid4())
        data = f"uuid={key}".encode()
        try:
            with urllib.request.urlopen(url + "/_test/write", data=data, timeout=60) as r:
                acked.append((key, json.loads(r.read())["seq"]))
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError):
            return  # the server died under us: the answer never came, nothing was promised


@pytest.mark.slow
def test_sigkill_while_acknowledging_writes_loses_nothing(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text('[site]\nid = "power-cut"\nname = "Test"\ncommunes = ["Nioro"]\n'
                    '[storage]\ndata_dir = "data"\n', encoding="utf-8")
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    rng = random.Random(20261128)
    all_acked: list[tuple[str, int]] = []
    cycles = int(os.environ.get("ESPACE_POWER_CUT_CYCLES", "15"))
    for _cycle in range(cycles):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, str(script), str(site), str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_ready(url, proc)
            acked: list[tuple[str, int]] = []
            stop = threading.Event()
            clients = [threading.Thread(target=_client, args=(url, acked, stop))
                       for _ in range(6)]
            for c in clients:
                c.start()
            # Let some writes through, then pull the plug at a random moment.
            # (Bounded wait for a condition; a loaded machine only makes it slower.)
            target = rng.randint(5, 60)
            deadline = time.monotonic() + 120
            while len(acked) < target and time.monotonic() < deadline:
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            stop.set()
            for c in clients:
                c.join(timeout=10)
            assert acked, "no write was acknowledged in this cycle"
            all_acked.extend(acked)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()

        con = sqlite3.connect(tmp_path / "data" / "espace.sqlite3")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = dict(con.execute("SELECT json_extract(payload, '$.day'), seq FROM outbox"))
            communes = {r[0] for r in con.execute("SELECT name FROM commune")}
        finally:
            con.close()
        for key, seq in all_acked:
            assert rows.get(key) == seq, f"acknowledged event {key} (seq {seq}) lost"
            assert key in communes
        # Nothing half-written: every event has its row and vice versa.
        assert set(rows) == communes - {"Nioro"}
        seqs = sorted(rows.values())
        assert seqs == list(range(1, len(seqs) + 1))
    assert len(all_acked) >= cycles
