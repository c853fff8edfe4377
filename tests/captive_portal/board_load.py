"""Driving a real ``espace serve`` (waitress, loopback) with many posting clients:
shared by the kill -9 test and ``bench/board.py``.

Each client binds its own loopback source address (127.0.0.N), so the box sees N
phones and applies its per-phone rate limit to each, as on the hotspot."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ESPACE = Path(sys.executable).with_name("espace")
TOKEN = re.compile(rb'name="csrf" value="([^"]+)"')


def write_site(tmp: Path, **board) -> Path:
    board = {"posts_per_hour": 1000, **board}
    lines = ['[site]', 'id = "load-test"', 'name = "Espace de charge"',
             'communes = ["Nioro", "Kayes"]', 'languages = ["fr", "en"]', '', '[board]']
    lines += [f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in board.items()]
    lines += ['', '[storage]', f'data_dir = "{tmp / "data"}"', '']
    path = tmp / "site.toml"
    path.write_text("\n".join(lines))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(site: Path, port: int, threads: int = 8, cpu: int | None = None,
                 log: Path | None = None) -> subprocess.Popen:
    cmd = [str(ESPACE), "serve", "--site", str(site), "--host", "127.0.0.1",
           "--port", str(port), "--threads", str(threads),
           # No kiosk listener: its fixed default port would collide between servers
           # started side by side (parallel tests, a bench beside a dev server).
           "--kiosk-port", "0"]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    out = open(log or os.devnull, "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    finally:
        out.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"espace serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)  # waiting for a condition, not for timing
    proc.kill()
    raise RuntimeError("espace serve did not start")


def kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


class Client:
    """One phone: its own source address, its session cookie and CSRF token."""

    def __init__(self, port: int, n: int):
        self.port, self.source = port, f"127.0.0.{10 + n}"
        self.conn: http.client.HTTPConnection | None = None
        self.cookie, self.token = "", ""

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                                   source_address=(self.source, 0))
        return self.conn

    def request(self, method: str, path: str, body: bytes | None = None,
                ctype: str = "") -> tuple[int, dict, bytes]:
        conn = self._connect()
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if ctype:
            headers["Content-Type"] = ctype
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            self.close()
            raise
        cookie = r.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return r.status, dict(r.getheaders()), data

    def prepare(self) -> None:
        status, _h, data = self.request("GET", "/board/new")
        assert status == 200, status
        self.token = TOKEN.search(data).group(1).decode()

    def post(self, body: str, voice: bytes | None = None) -> str | None:
        """The code of the acknowledged post, or None if refused."""
        fields = {"csrf": self.token, "kind": "question", "target": "c:1", "theme": "water",
                  "body": body}
        parts = [b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                 % (k.encode(), v.encode()) for k, v in fields.items()]
        if voice:
            parts.append(b'--XX\r\nContent-Disposition: form-data; name="voice"; '
                         b'filename="v.ogg"\r\nContent-Type: audio/ogg\r\n\r\n' + voice + b"\r\n")
        payload = b"".join(parts) + b"--XX--\r\n"
        status, headers, _ = self.request("POST", "/board/new", payload,
                                          "multipart/form-data; boundary=XX")
        if status != 303:
            return None
        return headers["Location"].rsplit("/", 1)[1]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
