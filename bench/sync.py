"""Sync benchmark: bytes, round trips, resumption, budget, throughput and memory of the
box's sync against central on loopback, each figure beside its target and, for T1,
beside a naive baseline (one uncompressed JSON POST per record, as ODK does).

Every byte is counted by a loopback proxy between the box and central (the "link"),
HTTP headers included. Run: ``.venv/bin/python bench/sync.py`` (about 5 minutes;
``--quick`` skips T7 and the 500 MB download of T9; ``--t9`` runs T9 alone). T10 runs
issue 19's scenarios (a replaced box, a busy voice note, USB after a partial upload);
T11 counts round trips and TCP connections of one run through the production server
(gunicorn).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zstandard  # noqa: E402

from appliance import blobs, migrations, outbox  # noqa: E402
from appliance.db import open_database  # noqa: E402
from appliance.sync import state  # noqa: E402
from appliance.sync.client import Options, SyncClient  # noqa: E402
from appliance.sync.enroll import enroll  # noqa: E402
from appliance.sync.transport import LinkError  # noqa: E402
from tests.central.harness import (  # noqa: E402
    CentralServer,
    FaultProxy,
    central_call,
    free_port,
    make_central,
)

_TEXT = ("le la les de du des un une et à au forage eau puits école santé centre maire "
         "conseil commune village route marché femmes jeunes réunion samedi taxe terrain "
         "pluie récolte semences dispensaire médicament enseignant classe table banc "
         "électricité panneau solaire pompe réparation budget projet cercle Kayes Nioro "
         "Diéma Yélimané quand pourquoi comment nous vous demandons proposons "
         "merci")
WORDS = _TEXT.split()
rng = random.Random(2026)


def sentence(n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def post_payload(i: int) -> dict:
    return {"uuid": str(uuid.UUID(int=rng.getrandbits(128))), "code": f"Q{i:04d}",
            "kind": rng.choice(["question", "proposal"]), "commune": "Nioro",
            "official": None, "theme": rng.choice(["water", "health", "education", "taxes"]),
            "body": sentence(rng.randint(15, 45)), "voice_sha256": "", "voice_mime": "",
            "voice_seconds": None, "voice_bytes": 0, "alias": "", "age_group":
            rng.choice(["", "18-35", "36-60"]), "gender": rng.choice(["", "f", "m"]),
            "status": "published", "created_at": f"2026-11-{rng.randint(1, 28):02d}T"
            f"{rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00+00:00"}


def usage_payload(i: int) -> dict:
    books = [{"zim": rng.choice(["wikipedia_fr_medicine", "mooc_agri", "khan_fr"]),
              "lang": rng.choice(["fr", "bm"]), "views": rng.randint(1, 40),
              "plays": rng.randint(0, 5),
              "paths": [{"path": f"A/{rng.choice(WORDS)}_{rng.randint(1, 99)}",
                         "count": rng.randint(1, 9)} for _ in range(rng.randint(1, 4))]}
             for _ in range(rng.randint(1, 2))]
    return {"hour": f"2026-11-{1 + i // 24 % 28:02d}T{i % 24:02d}:00Z", "books": books}


class Box:
    """A fresh box database enrolled with central (one at a time: the models' proxy)."""

    def __init__(self, central: CentralServer, budget: int = 10**9, code: str = "") -> None:
        from central import service

        self.tmp = Path(tempfile.mkdtemp(prefix="bench-box-"))
        self.data = self.tmp / "data"
        self.db = open_database(self.data)
        migrations.migrate(self.db)
        self.slug = "b" + uuid.uuid4().hex[:10]
        if not code:
            _s, code = central_call(central.app, service.create_site, self.slug, self.slug,
                                    "Kayes")
        enroll(central.url, code, self.data)
        self.budget = budget

    def options(self, url: str, **kw) -> Options:
        return Options(url=url, data_dir=self.data, content_dir=self.tmp / "content",
                       budget_bytes=self.budget, **kw)

    def sync(self, url: str, **kw):
        with SyncClient(self.options(url, **kw)) as client:
            return client.run(force=True)

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def add(kind: str, stream: str, payloads) -> list[str]:
    from appliance.db import database

    raws = []
    with database.atomic("IMMEDIATE"):
        for p in payloads:
            ev = outbox.append(kind, p, stream)
            raws.append(ev.payload)
    return raws


def add_voice(data_dir: Path, size: int, seed: int) -> str:
    from appliance.db import database

    data = os.urandom(size) if seed < 0 else \
        (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
    sha, _ = blobs.put_bytes(data_dir, data)
    with database.atomic("IMMEDIATE"):
        outbox.append("blob.voice", {"sha256": sha, "size": size}, stream="blob")
    return sha


def row(name: str, value: str, target: str, ok: bool) -> None:
    print(f"  {name:<44} {value:>22}   target {target:<28} {'PASS' if ok else 'FAIL'}")


# --- T1 / T2 ----------------------------------------------------------------------------


def naive_bytes(records: list[tuple[str, str]]) -> int:
    """One uncompressed JSON POST per record through a counting proxy, headers included,
    to a small JSON endpoint (the ODK way)."""
    from flask import Flask, jsonify, request

    app = Flask("naive")

    @app.post("/submission")
    def submission():
        return jsonify(stored=request.get_json().get("uuid", "ok"))

    with CentralServer(app) as server, FaultProxy(server.url) as proxy:
        host, port = proxy.url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        for kind, payload in records:
            body = json.dumps({"kind": kind, **json.loads(payload)}).encode()
            conn.request("POST", "/submission", body,
                         {"Content-Type": "application/json", "User-Agent": "naive/1.0"})
            conn.getresponse().read()
        conn.close()
    return proxy.up + proxy.down


def t1_t2(central: CentralServer) -> None:
    print("T1  1,000 posts + 1,000 usage events, bytes on the wire (HTTP headers included)")
    box = Box(central)
    try:
        posts = add("post.created", "civic", [post_payload(i) for i in range(1000)])
        usage = add("usage.content", "usage", [usage_payload(i) for i in range(1000)])
        # The records as the outbox holds them (every column), one JSON line each.
        from appliance.models import OutboxEvent

        raw = "\n".join(json.dumps({"seq": e.seq, "uuid": e.uuid, "kind": e.kind,
                                    "stream": e.stream, "created_at": e.created_at,
                                    "payload": json.loads(e.payload)}, ensure_ascii=False)
                        for e in OutboxEvent.select().order_by(OutboxEvent.seq)).encode()
        zsize = len(zstandard.ZstdCompressor(level=3).compress(raw))
        with FaultProxy(central.url) as proxy:
            result = box.sync(proxy.url)
        ours = proxy.up + proxy.down
        naive = naive_bytes([("post.created", p) for p in posts]
                            + [("usage.content", u) for u in usage])
        print(f"  the records as JSON lines {len(raw):,} B; zstd -3 of them {zsize:,} B")
        print(f"  naive baseline (2,000 JSON POSTs)            {naive:>14,} B")
        print(f"  Espace sync ({proxy.requests} round trips, pushed {result.pushed})"
              f"      {ours:>14,} B")
        row("ours / zstd size", f"{ours / zsize:.3f}x", "<= 1.15x", ours <= 1.15 * zsize)
        row("ours / naive", f"{ours / naive:.3f}x", "<= 0.20x", ours <= 0.2 * naive)
        with FaultProxy(central.url) as proxy:
            idle = box.sync(proxy.url)
        print("T2  idle check and a 1 MB sync")
        row("idle check", f"{proxy.requests} RT, {proxy.up + proxy.down} B",
            "1 round trip, <= 600 B", proxy.requests == 1 and proxy.up + proxy.down <= 600)
        assert idle.pushed == 0
        more = add("post.created", "civic", [post_payload(i) for i in range(2500)])
        size = sum(len(p) for p in more)
        with FaultProxy(central.url) as proxy:
            box.sync(proxy.url)
        row(f"sync of {size / 1e6:.2f} MB of records", f"{proxy.requests} round trips",
            "<= 3 round trips", proxy.requests <= 3 and size >= 1_000_000)
    finally:
        box.close()


# --- T3 -----------------------------------------------------------------------------------


def t3(central: CentralServer) -> None:
    print("T3  voice notes of 50-500 KB, links cut at random during uploads")
    sizes = [rng.randint(50_000, 500_000) for _ in range(20)]

    def upload_all(cut: bool) -> tuple[int, int]:
        box = Box(central)
        try:
            for size in sizes:
                add_voice(box.data, size, -1)
            total, cuts = 0, 0
            for _ in range(200):
                plan = {}
                if cut and state.SyncBlobTodo.select().where(
                        state.SyncBlobTodo.done == 1).count() < len(sizes):
                    # Cut the next blob request somewhere inside its body.
                    plan = {rng.randint(1, 3): ("cut_up", rng.randint(2_000, 200_000))}
                with FaultProxy(central.url, lambda i, p=plan: p.get(i, "pass")) as proxy:
                    try:
                        result = box.sync(proxy.url)
                        done = result.result == "ok"
                    except LinkError:
                        done = False
                        cuts += bool(plan)
                total += proxy.up + proxy.down
                if done:
                    break
            return total, cuts
        finally:
            box.close()

    clean, _ = upload_all(False)
    cut_total, cuts = upload_all(True)
    resent = cut_total - clean
    limit = 64 * 1024 + 1024 * cuts
    print(f"  {len(sizes)} notes, {sum(sizes):,} B; clean upload {clean:,} B on the wire")
    row(f"extra bytes with {cuts} cuts", f"{resent:,} B", f"<= 64 KiB + 1 KiB/cut = {limit:,}",
        resent <= limit)
    row("extra bytes per cut", f"{resent / max(1, cuts):,.0f} B", "(tus: up to a chunk)", True)


# --- T6 -----------------------------------------------------------------------------------


def t6(central: CentralServer, tmp: Path) -> None:
    from central import service

    print("T6  5 MB daily budget; 1,000 posts, 50 voice notes, a 200 MB ZIM waiting")
    zim = tmp / "big.zim"
    with open(zim, "wb") as f:
        for _ in range(200):
            f.write(os.urandom(1_000_000))
    central_call(central.app, service.publish_file, central.app.config["DATA_DIR"], zim,
                 f"t6-{uuid.uuid4().hex[:6]}.zim")
    box = Box(central, budget=5_000_000)
    try:
        add("post.created", "civic", [post_payload(i) for i in range(1000)])
        for _ in range(50):
            add_voice(box.data, rng.randint(50_000, 300_000), -1)
        with FaultProxy(central.url) as proxy:
            result = box.sync(proxy.url)
            again = box.sync(proxy.url)  # a second run the same day spends nothing more
        day = state.SyncUsage.select().first()
        counted = day.bytes_up + day.bytes_down
        wire = proxy.up + proxy.down
        print(f"  run: {result.summary()}; then: {again.result}")
        row("bytes on the wire vs 5,000,000 budget", f"{wire:,} B",
            "<= budget + 64 KiB", wire <= 5_000_000 + 65_536)
        row("bytes the box counted", f"{counted:,} B", "= wire bytes", counted == wire)
        acks = state.acked()
        row("posts acknowledged before voice notes", f"civic {acks['civic']}",
            "all 1,000 posts", acks["civic"] == 1000)
        blobs_done = state.SyncBlobTodo.select().where(state.SyncBlobTodo.done == 1).count()
        dl = state.SyncDownload.select().first()
        row("then voice notes; ZIM waits", f"{blobs_done} notes, ZIM {dl.have if dl else 0} B",
            "notes before the ZIM", dl is None or dl.have == 0 or blobs_done == 50)
    finally:
        box.close()
        zim.unlink()


# --- T7 -----------------------------------------------------------------------------------


def t7(central: CentralServer) -> None:
    print("T7  40 kbit/s link with 600 ms round trips (user-space proxy)")
    rate = 40_000 / 8
    box = Box(central)
    try:
        size = 150_000
        add_voice(box.data, size, -1)
        add("post.created", "civic", [post_payload(i) for i in range(100)])
        with FaultProxy(central.url, rate=rate, rtt=0.6) as proxy:
            start = time.monotonic()
            box.sync(proxy.url)
            elapsed = time.monotonic() - start
        useful = size
        ratio = (proxy.up + proxy.down) / elapsed / rate
        goodput = useful / elapsed / rate
        print(f"  {proxy.requests} round trips in {elapsed:.1f} s; {proxy.up + proxy.down:,} B")
        row("link utilisation (all bytes)", f"{ratio * 100:.0f}%", ">= 80%", ratio >= 0.8)
        row("useful throughput (voice-note bytes only)", f"{goodput * 100:.0f}%", ">= 80%",
            goodput >= 0.8)
    finally:
        box.close()


# --- T9 -----------------------------------------------------------------------------------


# A child's ru_maxrss starts from its parent's peak RSS at the fork (Linux carries the
# forked copy's high-water mark across exec): spawned from this bench, which holds about
# 53 MB once it has written 100,000 events, no figure could read lower than that (the
# idle runs read 52.8 MB with psycopg2 and without). A small launcher (a bare Python,
# about 10 MB) forks the command instead and reports that process's own peak.
_LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(os.wait4(pid, 0)[2].ru_maxrss))
"""


def peak_rss_of(cmd: list[str], env: dict) -> tuple[int, str]:
    """Run cmd; return (peak RSS in KiB of that process alone, its output)."""
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as peak:
        out = subprocess.run([sys.executable, "-c", _LAUNCHER, peak.name, *cmd], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
        return int(peak.read()), out


def t9(tmp: Path, quick: bool) -> None:
    print("T9  memory of the sync process (espace sync now, peak RSS)")
    bin_dir = Path(sys.executable).parent
    central_dir = tmp / "t9-central"
    port = free_port()
    create = subprocess.run([str(bin_dir / "central"), "create-site", "t9", "--name", "T9",
                             "--region", "Kayes", "--data-dir", str(central_dir)],
                            capture_output=True, text=True, check=True)
    code = create.stdout.strip().rsplit(" ", 1)[-1]
    if not quick:
        big = tmp / "t9.zim"
        with open(big, "wb") as f:
            for _ in range(500):
                f.write(os.urandom(1_000_000))
        subprocess.run([str(bin_dir / "central"), "publish", str(big), "--name", "t9.zim",
                        "--data-dir", str(central_dir)], check=True, capture_output=True)
        big.unlink()
    server = subprocess.Popen([str(bin_dir / "central"), "serve", "--data-dir",
                               str(central_dir), "--port", str(port), "--insecure-cookies"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket

        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        box_dir = tmp / "t9-box"
        site = tmp / "t9-site.toml"
        site.write_text(f'[site]\nid = "t9-box"\nname = "T9"\ncommunes = ["Nioro"]\n'
                        f'[storage]\ndata_dir = "{box_dir}"\n'
                        f'[central]\nurl = "http://127.0.0.1:{port}"\n'
                        f'[sync]\ndaily_budget_mb = 100000\n')
        enrolled = subprocess.run([str(bin_dir / "espace"), "enroll",
                                   f"http://127.0.0.1:{port}", code, "--site", str(site)],
                                  capture_output=True, text=True)
        assert enrolled.returncode == 0, enrolled.stderr
        db = open_database(box_dir)
        migrations.migrate(db)
        with db.atomic("IMMEDIATE"):
            for i in range(100_000):
                outbox.append("usage.content" if i % 2 else "post.created",
                              usage_payload(i) if i % 2 else post_payload(i),
                              "usage" if i % 2 else "civic")
        db.close()
        # The box's venv has no psycopg2 (central's driver, in the test extra only), but
        # peewee imports it whenever it is installed: hidden here, as on the box.
        shim = tmp / "t9-box-python"
        (shim / "psycopg2").mkdir(parents=True, exist_ok=True)
        (shim / "psycopg2" / "__init__.py").write_text(
            'raise ImportError("not on the box")\n')
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(shim), os.environ.get("PYTHONPATH")]))}
        start = time.monotonic()
        rss_kb, out = peak_rss_of([str(bin_dir / "espace"), "sync", "now", "--site",
                                   str(site)], env)
        elapsed = time.monotonic() - start
        label = "100,000 events" + ("" if quick else " then a 500 MB download")
        print(f"  {out.strip()} ({elapsed:.0f} s)")
        row(label, f"{rss_kb / 1024:.1f} MB peak RSS", "< 64 MB", rss_kb < 64 * 1024)
        # What `espace sync now` costs before it syncs anything (imports, registry): the
        # same command against a box with nothing to send, with and without psycopg2.
        idle = tmp / "t9-idle.toml"
        idle.write_text(f'[site]\nid = "t9-idle"\nname = "T9"\ncommunes = ["Nioro"]\n'
                        f'[storage]\ndata_dir = "{tmp / "t9-idle"}"\n')
        for what, e in (("as on the box", env), ("with the dev venv's psycopg2",
                                                   dict(os.environ))):
            kb, _ = peak_rss_of([str(bin_dir / "espace"), "sync", "now", "--site", str(idle)], e)
            row(f"espace sync now, not enrolled ({what})", f"{kb / 1024:.1f} MB peak RSS",
                "(no target)", True)
        if not quick:
            got = box_dir / "content" / "t9.zim"
            row("500 MB download complete and verified", f"{got.stat().st_size:,} B"
                if got.exists() else "missing", "500,000,000 B",
                got.exists() and got.stat().st_size == 500_000_000)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


# --- T10 / T11: issue 19's scenarios ------------------------------------------------------


def delivered(central: CentralServer, box_id: str) -> int:
    from central.models import Box as CentralBox
    from central.models import Record

    return central_call(central.app, lambda: Record.select().join(CentralBox).where(
        CentralBox.box_id == box_id).count())


def t10(central: CentralServer, tmp: Path) -> None:
    from appliance.models import OutboxEvent
    from central import service
    from central.models import Site

    print("T10 a replaced box, a busy voice note, USB after a partial upload")
    budget = 2_000_000
    old = Box(central)
    add("post.created", "civic", [post_payload(i) for i in range(40)])
    old.sync(central.url)
    slug = old.slug
    old.close()
    site = central_call(central.app, lambda: Site.get(Site.slug == slug))
    central_call(central.app, service.revoke, site)
    code = central_call(central.app, service.reissue_code, site)
    new = Box(central, budget=budget, code=code)  # a new SD card for the same site
    try:
        add("post.created", "civic", [post_payload(i) for i in range(9)])
        with FaultProxy(central.url) as proxy:
            new.sync(proxy.url)
        got = delivered(central, state.box_id())
        row("replaced box: its first records at central", f"{got}/9, {proxy.up + proxy.down:,} B",
            f"9/9 within {budget:,} B", got == 9 and proxy.up + proxy.down <= budget)
    finally:
        new.close()
    box = Box(central, budget=budget)
    try:
        add("post.created", "civic", [post_payload(i) for i in range(100)])
        shas = [add_voice(box.data, 200_000, -1) for _ in range(5)]
        partial = central.app.config["DATA_DIR"] / "blobs" / "partial"
        partial.mkdir(parents=True, exist_ok=True)
        (partial / f"{shas[0]}.lock").write_text("a-stalled-link")  # held by a dead link
        with FaultProxy(central.url) as proxy:
            result = box.sync(proxy.url)
        wire = proxy.up + proxy.down
        got = delivered(central, state.box_id())
        row("busy note: records and notes delivered", f"{got} rec, {result.blobs}/5 notes",
            "100 records, 4/5 notes", got >= 100 and result.blobs == 4)
        # Upload bytes judge a resend storm; the rest of the budget goes to content the
        # box pulls (T6's 200 MB ZIM, published on this central earlier in the run).
        row("busy note: bytes spent (up / down)", f"{proxy.up:,} / {proxy.down:,} B",
            f"up <= {5 * 200_000 + 200_000:,} B (no resend storm), all <= {budget:,} B",
            proxy.up <= 5 * 200_000 + 200_000 and wire <= budget + 65_536)
        (partial / f"{shas[0]}.lock").unlink()
    finally:
        box.close()
    box = Box(central, budget=budget)
    try:
        sha = add_voice(box.data, 300_000, 11)
        plan = {1: ("cut_up", 150_000), 2: ("cut_up", 100)}
        with FaultProxy(central.url, lambda i: plan.get(i, "pass")) as proxy, \
                contextlib.suppress(LinkError):
            box.sync(proxy.url)
        wire = proxy.up + proxy.down
        from appliance.sync.sneakernet import export
        from central.sneakernet import import_dir

        stick = tmp / "t10-stick"
        export(stick, box.options(central.url))
        stats = central_call(central.app, import_dir, stick, central.app.config["DATA_DIR"],
                             central.app.config["CENTRAL_KEY"])
        have = (central.app.config["DATA_DIR"] / "blobs" / sha[:2] / sha).exists()
        events = OutboxEvent.select().count()
        row("USB after a partial upload", f"note {'in' if have else 'missing'}, "
            f"{stats['records']}/{events} rec", "note delivered, all records",
            have and stats["records"] == events and not stats["refused"])
        row("USB after a partial upload: online bytes", f"{wire:,} B", f"<= {budget:,} B",
            wire <= budget)
    finally:
        box.close()


def t11(tmp: Path) -> None:
    """Round trips and TCP connections of one run through the production server."""
    print("T11 one run through `central serve` (gunicorn): round trips and connections")
    bin_dir = Path(sys.executable).parent
    data = tmp / "t11-central"
    out = subprocess.run([str(bin_dir / "central"), "create-site", "t11", "--name", "T11",
                          "--region", "Kayes", "--data-dir", str(data)],
                         capture_output=True, text=True, check=True).stdout
    code = out.strip().rsplit(" ", 1)[-1]
    port = free_port()
    server = subprocess.Popen([str(bin_dir / "central"), "serve", "--data-dir", str(data),
                               "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                time.sleep(0.05)

        class Remote:
            url = f"http://127.0.0.1:{port}"
            app = None

        box = Box.__new__(Box)
        box.tmp = Path(tempfile.mkdtemp(prefix="bench-box-"))
        box.data = box.tmp / "data"
        box.db = open_database(box.data)
        migrations.migrate(box.db)
        enroll(Remote.url, code, box.data)
        box.budget = 10**9
        try:
            add("post.created", "civic", [post_payload(i) for i in range(1000)])
            for _ in range(5):
                add_voice(box.data, 300_000, -1)
            with FaultProxy(Remote.url) as proxy:
                result = box.sync(proxy.url)
                conns = len(proxy._threads)
            row("round trips of the run", f"{result.round_trips}", "as before (werkzeug)",
                True)
            row("TCP connections of the run", f"{conns}", "1 (werkzeug: one per request)",
                conns == 1)
        finally:
            box.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    quick = "--quick" in sys.argv
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    if "--t9" in sys.argv:  # T9 alone (memory of the sync process)
        try:
            t9(tmp, quick)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        app = make_central(tmp / "central")
        with CentralServer(app) as central:
            central.app = app
            t1_t2(central)
            t3(central)
            if not quick:
                t7(central)  # before T6 publishes a ZIM the slow link would then fetch
            t6(central, tmp)
            t10(central, tmp)
        t11(tmp)
        t9(tmp, quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
