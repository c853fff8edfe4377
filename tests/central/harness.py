"""Test harness shared by central's tests, the box's sync tests and bench/sync.py:
a throwaway PostgreSQL cluster, central served on loopback, a box with its own
database, and a fault-injecting HTTP proxy (loopback only)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- PostgreSQL -------------------------------------------------------------------------


def pg_bin(name: str) -> str | None:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A cluster in a temp dir, run as the ``postgres`` user on 127.0.0.1 and a free port;
    yields ``postgresql://postgres@127.0.0.1:PORT``. Stopped (immediate) at the end."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise FileNotFoundError("initdb/pg_ctl not found: apt-get install postgresql")
    tmp = tempfile.mkdtemp(prefix="espace-pg-")
    os.chmod(tmp, 0o755)
    data = Path(tmp) / "data"
    shutil.chown(tmp, "postgres", "postgres")
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(as_pg + [initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                            "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
    opts = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off")
    subprocess.run(as_pg + [pg_ctl, "-D", str(data), "-o", opts, "-l",
                            str(Path(tmp) / "log"), "-w", "start"], check=True,
                   capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(as_pg + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def new_pg_database(base_url: str) -> str:
    import psycopg2

    name = "central_" + uuid.uuid4().hex[:12]
    host_port = base_url.split("@", 1)[1]
    host, port = host_port.split(":")
    conn = psycopg2.connect(host=host, port=int(port), user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return f"{base_url}/{name}"


# --- central on loopback -------------------------------------------------------------------


def make_central(data_dir: Path, database_url: str = "", **config):
    from central.app import create_app

    return create_app({"DATA_DIR": str(data_dir), "DATABASE_URL": database_url,
                       "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False,
                       "TESTING": True, **config})


class CentralServer:
    """Central behind werkzeug's threaded server (streams request bodies) on loopback.
    ``close()`` is idempotent and joins every thread."""

    def __init__(self, app, port: int = 0) -> None:
        from werkzeug.serving import make_server

        from central.server import QuietHandler

        self.server = make_server("127.0.0.1", port, app, threaded=True,
                                  request_handler=QuietHandler)
        self.server.daemon_threads = False
        self.server.block_on_close = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="central",
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=10)
            self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def central_call(app, fn, *args, **kwargs):
    """Run ``fn`` against central's database (in this thread)."""
    from central.db import database

    with app.app_context(), database.connection_context():
        return fn(*args, **kwargs)


# --- the fault-injecting proxy -----------------------------------------------------------


def _read_http_message(sock: socket.socket, buf: bytearray) -> bytes | None:
    """One HTTP/1.1 message (head + Content-Length body) from sock; None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf.extend(data)
    end = buf.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buf[:end]).split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(buf) < end + length:
        data = sock.recv(65536)
        if not data:
            return None
        buf.extend(data)
    message = bytes(buf[:end + length])
    del buf[:end + length]
    return message


class FaultProxy:
    """An HTTP-aware TCP proxy on 127.0.0.1 in front of central.

    ``faults`` is consulted once per request (in arrival order) and returns one of:
    ``"pass"``; ``("cut_up", n)`` forward only n bytes of the request, then cut;
    ``("cut_down", n)`` forward the request, then n bytes of the response, then cut;
    ``"drop_response"`` central gets and commits the request, the box never hears back;
    ``"duplicate"`` central gets the request twice; ``"hold"`` the request is cut now and
    delivered to central later, after newer ones (reordering).
    ``rate`` (bytes/s each way) and ``rtt`` (seconds) simulate a slow link in user space.
    Counts bytes each way (``up``, ``down``) and requests; ``close()`` joins all threads."""

    def __init__(self, upstream: str, faults=None, rate: float = 0.0, rtt: float = 0.0):
        host, port = upstream.split("//", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.faults = faults or (lambda i: "pass")
        self.rate, self.rtt = rate, rtt
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.up = self.down = self.requests = 0
        self.log: list = []
        self.held: list[bytes] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="fault-proxy")
        self._accept.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._handle, args=(client,), name="fault-proxy-conn")
            self._threads.append(t)
            t.start()

    def _send(self, sock: socket.socket, data: bytes, count: str) -> None:
        if self.rate:
            step = max(512, int(self.rate / 20))
            for i in range(0, len(data), step):
                chunk = data[i:i + step]
                time.sleep(len(chunk) / self.rate)  # the link's speed (simulation)
                sock.sendall(chunk)
                self._count(count, len(chunk))
        else:
            sock.sendall(data)
            self._count(count, len(data))

    def _count(self, which: str, n: int) -> None:
        with self.lock:
            setattr(self, which, getattr(self, which) + n)

    def _deliver_held(self) -> None:
        while self.held:
            request = self.held.pop(0)
            with contextlib.suppress(OSError), socket.create_connection(self.upstream) as up:
                up.sendall(request)
                _read_http_message(up, bytearray())

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        upstream = None
        buf = bytearray()
        try:
            while not self._stop.is_set():
                request = _read_http_message(client, buf)
                if request is None:
                    return
                with self.lock:
                    index = self.requests
                    self.requests += 1
                fault = self.faults(index)
                self.log.append((index, fault))
                if self.held and fault != "hold":
                    self._deliver_held()
                if self.rtt:
                    time.sleep(self.rtt / 2)  # one-way delay of the simulated link
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    upstream.settimeout(30)
                if isinstance(fault, tuple) and fault[0] == "cut_up":
                    self._send(upstream, request[:fault[1]], "up")
                    return
                if fault == "hold":
                    self._count("up", len(request))
                    self.held.append(request)
                    return
                self._send(upstream, request, "up")
                response = _read_http_message(upstream, bytearray())
                if response is None:
                    return
                if fault == "duplicate":
                    with socket.create_connection(self.upstream) as again:
                        again.sendall(request)
                        _read_http_message(again, bytearray())
                if fault == "drop_response":
                    return
                if self.rtt:
                    time.sleep(self.rtt / 2)
                if isinstance(fault, tuple) and fault[0] == "cut_down":
                    self._send(client, response[:fault[1]], "down")
                    return
                self._send(client, response, "down")
        except OSError:
            return
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._accept.join(timeout=10)
        self.listener.close()
        for t in self._threads:
            t.join(timeout=30)
        self._deliver_held()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- a box enrolled with central ------------------------------------------------------------


def enrol_box(central_app, url: str, data_dir: Path, slug: str = "nioro",
              region: str = "Kayes") -> str:
    """Create the site at central and enrol the box of the current box database."""
    from appliance.sync.enroll import enroll
    from central import service

    _site, code = central_call(central_app, service.create_site, slug, f"Espace {slug}",
                               region, ["Nioro"])
    enroll(url, code, data_dir)
    return code


def box_options(site, url: str, **overrides):
    from appliance.sync.client import Options

    return Options.from_site(site, url=url, **overrides)


def add_events(n: int, stream: str = "civic", kind: str = "post.created", start: int = 0,
               pad: int = 0) -> None:
    """n outbox events, each in its own row-and-event transaction like real writes."""
    from appliance import outbox
    from appliance.db import database

    with database.atomic():
        for i in range(start, start + n):
            if kind == "usage.content":
                payload = {"hour": f"2026-11-20T{i % 24:02d}:00Z", "books": [
                    {"zim": "wikipedia_fr", "views": i, "paths": ["x" * pad]}]}
            else:
                payload = post(uuid.UUID(int=i + 1), f"post {i} " + "x" * pad,
                               gender="f" if i % 2 else "m")
            outbox.append(kind, payload, stream)


def post(post_uuid=None, body: str = "", **values) -> dict:
    """A post.created payload as the board writes it."""
    return {"uuid": str(post_uuid or uuid.uuid4()), "code": "Q0001", "kind": "question",
            "commune": "Nioro", "official": None, "theme": "water", "body": body,
            "voice_sha256": "", "voice_mime": "", "voice_seconds": None, "voice_bytes": 0,
            "alias": "", "age_group": "18-35", "gender": "f", "status": "published",
            "created_at": "2026-11-20T10:00:00+00:00", **values}
