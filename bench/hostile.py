"""One phone cannot take the box down: a normal page's p95 under attack, as a ratio to
the same page's p95 when the box is quiet (issue 13, target <= 3x).

`espace serve` runs as its systemd unit starts it (the phones' listener and the kiosk's
loopback listener). The attack, from its own loopback addresses as phones on the
hotspot have their own:

- 200 idle TCP connections from one phone (127.0.0.2);
- 50 slowloris connections (127.0.0.3), each sending a header line every second and
  never finishing its request;
- 8 phones (127.0.0.10-17) each sending, in a loop, a 3 MB crafted voice note (WebM of
  tiny elements: the most parsing work per byte) that the board refuses, each at up to
  ``--phone-mbps`` (8 Mbit/s: more than a phone gets on a shared 2.4 GHz hotspot; 0 for
  as fast as loopback allows).

The normal page is the landing page (`/`, French), fetched by a visitor (127.0.0.1)
on a new connection each time; the kiosk's login page is measured on its own listener.
Also prints the CPU time `appliance.audio.probe` takes to refuse each crafted file.

    .venv/bin/python bench/hostile.py [--requests 200] [--seconds-between 0.02]
        [--phone-mbps 8] [--only idle,slowloris,uploads]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVE = r"""
import sys
from espace.cli import main
sys.argv = ["espace", "serve", "--site", sys.argv[1], "--host", "127.0.0.1",
            "--port", sys.argv[2], "--kiosk-port", sys.argv[3], "--threads", "8"]
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, path: str, source: str = "127.0.0.1", timeout: float = 30.0) -> float:
    """Seconds to get ``path`` on a new connection (a timeout counts as ``timeout``)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers={"Cookie": "lang=fr", "Accept-Encoding": "gzip"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
    except (OSError, http.client.HTTPException):
        return timeout
    finally:
        conn.close()
    return time.perf_counter() - start


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def measure(port: int, path: str, n: int, pause: float) -> list[float]:
    out = []
    for _ in range(n):
        out.append(fetch(port, path))
        time.sleep(pause)
    return out


class Attack:
    """The three attackers, each in its own threads; ``stop()`` ends them all."""

    def __init__(self, port: int, voice: bytes, parts: set[str], rate: float) -> None:
        self.port, self.voice, self.parts, self.rate = port, voice, parts, rate
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.uploads = {"sent": 0, "refused_400": 0, "refused_429": 0, "other": 0}
        self.lock = threading.Lock()

    def start(self) -> None:
        if "idle" in self.parts:
            for _ in range(200):
                self.sockets.append(self._connect("127.0.0.2"))
        if "slowloris" in self.parts:
            self._spawn(self._slowloris)
        if "uploads" in self.parts:
            for n in range(8):
                self._spawn(self._uploader, f"127.0.0.{10 + n}")

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _connect(self, source: str) -> socket.socket:
        s = socket.socket()
        s.settimeout(5)
        s.bind((source, 0))
        with contextlib.suppress(OSError):
            s.connect(("127.0.0.1", self.port))
        return s

    def _slowloris(self) -> None:
        loris = []
        while not self.stopping.is_set():
            # Keep 50 open: the server drops them after its header deadline.
            loris = [s for s in loris if s.fileno() != -1]
            while len(loris) < 50:
                s = self._connect("127.0.0.3")
                try:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: box\r\n")
                except OSError:
                    s.close()
                    continue
                loris.append(s)
            for s in loris:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    s.close()
            self.stopping.wait(1.0)
        for s in loris:
            s.close()

    def _uploader(self, source: str) -> None:
        cookie, token = "", ""
        while not self.stopping.is_set():
            try:
                conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=30, source_address=(source, 0)
                )
                if not token:
                    conn.request("GET", "/board/new", headers={"Cookie": "lang=fr"})
                    r = conn.getresponse()
                    page = r.read().decode()
                    cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
                    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                body, ctype = _multipart(
                    {
                        "csrf": token,
                        "kind": "question",
                        "target": "c:1",
                        "theme": "water",
                        "body": "",
                    },
                    self.voice,
                )
                conn.putrequest("POST", "/board/new")
                for k, v in (
                    ("Content-Type", ctype),
                    ("Cookie", f"lang=fr; {cookie}"),
                    ("Content-Length", str(len(body))),
                ):
                    conn.putheader(k, v)
                conn.endheaders()
                self._paced_send(conn.sock, body)
                status = conn.getresponse().status
                conn.close()
            except (OSError, http.client.HTTPException, AttributeError):
                status = -1
            with self.lock:
                self.uploads["sent"] += 1
                key = {400: "refused_400", 429: "refused_429"}.get(status, "other")
                self.uploads[key] += 1

    def _paced_send(self, sock: socket.socket, body: bytes) -> None:
        """Send at most ``self.rate`` bytes a second, as a phone's radio would; stop
        when the server has answered (and closed) without reading it all."""
        chunk, start = 64 * 1024, time.monotonic()
        for offset in range(0, len(body), chunk):
            try:
                sock.sendall(body[offset : offset + chunk])
            except OSError:
                return
            if self.rate:
                ahead = (offset + chunk) / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    self.stopping.wait(ahead)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        for s in self.sockets:
            s.close()


def _multipart(fields: dict[str, str], voice: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="voice"; '
        f'filename="a.webm"\r\nContent-Type: audio/webm\r\n\r\n'.encode()
        + voice
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def probe_costs() -> None:
    from appliance import audio
    from tests.appliance import board_samples as samples

    print("CPU to refuse a crafted 3 MB voice note (appliance.audio.probe, max_voice_seconds 180):")
    for name in ("amr_no_data", "ogg_empty_packets", "webm_voids"):
        data = getattr(samples, name)(3_000_000)
        start = time.process_time()
        try:
            audio.probe(data, max_seconds=180)
        except audio.AudioError as e:
            why = str(e)
        cost = time.process_time() - start
        print(f"  {name:<18} {cost * 1000:7.1f} ms  ({why})")
    lying = samples.ogg_opus_lying(real_seconds=7200, claimed_seconds=10)
    try:
        audio.probe(lying, max_seconds=180)
        verdict = "accepted"
    except audio.AudioTooLong:
        verdict = "refused as too long"
    print(f"  2-hour Opus claiming 10 s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds-between", type=float, default=0.02)
    parser.add_argument(
        "--phone-mbps",
        type=float,
        default=8.0,
        help="upload speed of each attacking phone (0: unlimited, as fast "
        "as loopback goes; a phone on the hotspot gets a few Mbit/s)",
    )
    parser.add_argument(
        "--only",
        default="idle,slowloris,uploads",
        help="attackers to run, comma-separated (default: all three)",
    )
    args = parser.parse_args()
    from appliance.demo import create_demo
    from tests.appliance import board_samples as samples

    probe_costs()
    with tempfile.TemporaryDirectory() as tmp:
        site = create_demo(Path(tmp) / "var", echo=lambda _m: None)
        port, kiosk_port = free_port(), free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(site), str(port), str(kiosk_port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("espace serve did not start") from None
                    time.sleep(0.2)
            measure(port, "/", 20, 0)  # warm-up
            quiet = measure(port, "/", args.requests, args.seconds_between)
            quiet_kiosk = measure(kiosk_port, "/kiosk/login", 50, args.seconds_between)
            attack = Attack(
                port,
                samples.webm_voids(3_000_000),
                set(args.only.split(",")),
                args.phone_mbps * 1e6 / 8,
            )
            attack.start()
            time.sleep(3)  # let every attacker get going
            loud = measure(port, "/", args.requests, args.seconds_between)
            loud_kiosk = measure(kiosk_port, "/kiosk/login", 50, args.seconds_between)
            attack.stop()
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    print(f"\nlanding page '/', {args.requests} requests, new connection each:")
    print(
        f"  quiet   p50 {statistics.median(quiet) * 1000:7.1f} ms  p95 {p95(quiet) * 1000:7.1f} ms"
    )
    print(
        f"  attack  p50 {statistics.median(loud) * 1000:7.1f} ms  "
        f"p95 {p95(loud) * 1000:7.1f} ms  (timeouts: {sum(t >= 30 for t in loud)})"
    )
    print(f"  ratio of p95: {p95(loud) / p95(quiet):.2f}x  (target <= 3x)")
    print("kiosk login on its loopback listener, 50 requests:")
    print(
        f"  quiet p95 {p95(quiet_kiosk) * 1000:.1f} ms, attack p95 "
        f"{p95(loud_kiosk) * 1000:.1f} ms ({p95(loud_kiosk) / p95(quiet_kiosk):.2f}x)"
    )
    print(f"uploads by the 8 phones ({args.phone_mbps:g} Mbit/s each): {attack.uploads}")


if __name__ == "__main__":
    main()
