"""Portal throughput and memory on one core, beside a minimal Flask "hello" app.

Each app runs under waitress (the production server, same settings) pinned to CPU
0; wrk drives it with 50 concurrent connections pinned to CPU 1. Prints requests/s,
p50/p95 latency and the server's RSS for every page, and the ratio to hello.

Target (issue 2): landing page >= 0.5x hello's throughput, web process < 60 MB RSS.

With ``--tls`` (issue 22) it also measures the secure origin: the landing page over
HTTPS through the box's TLS listener (nginx, the rendered config, a P-256 key as the
box makes) against plain HTTP to waitress, both with every server process on CPU 0;
and the handshake's cost: full and resumed handshakes per second (``openssl s_time``
on CPU 1) with nginx's CPU seconds per handshake.

    .venv/bin/python bench/portal.py [--seconds 10] [--connections 50] [--tls]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

# Espace runs exactly as its systemd unit starts it: `espace serve`.
SERVE_ESPACE = r'''
import sys
from appliance.cli import main
sys.argv = ["espace", "serve", "--site", sys.argv[1], "--host", "127.0.0.1",
            "--port", sys.argv[2], "--threads", "8", "--kiosk-port", sys.argv[3]]
main()
'''

SERVE_HELLO = r'''
import sys
from flask import Flask
from appliance.server import run
app = Flask("hello")
app.config["MAX_CONTENT_LENGTH"] = 1 << 20
@app.get("/")
def hello():
    return "Hello, World!"
run(app, "127.0.0.1", int(sys.argv[2]), threads=8)
'''

WRK_LUA = r'''
done = function(summary, latency, requests)
  io.write(string.format("ESPACE p50=%d p95=%d requests=%d errors=%d\n",
    latency:percentile(50), latency:percentile(95), summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
'''

# Like a browser, a logged-in client keeps the session cookie the server renews
# (the kiosk renews it every 10 s to track idleness); wrk alone would replay the
# first cookie and make the server re-sign it on every request.
WRK_FOLLOW_COOKIES_LUA = r'''
response = function(status, headers, body)
  local c = headers["Set-Cookie"]
  if c then
    wrk.headers["Cookie"] = "lang=fr; " .. c:match("^([^;]+)")
  end
end
'''

# (name, server, path, headers); other issues add their pages here.
PAGES: list[tuple[str, str, str, dict[str, str]]] = [
    ("hello", "hello", "/", {}),
    ("landing (gzip)", "espace", "/", {"Cookie": "lang=fr", "Accept-Encoding": "gzip"}),
    ("landing (plain)", "espace", "/", {"Cookie": "lang=fr"}),
    ("language chooser", "espace", "/", {"Accept-Encoding": "gzip"}),
    # The facilitator's "today" page, logged in (KIOSK_COOKIE is replaced at run time).
    ("kiosk today (gzip)", "espace", "/kiosk/", {"Accept-Encoding": "gzip",
                                                 "Cookie": "KIOSK_COOKIE"}),
]


def kiosk_cookie(port: int) -> str:
    """Log in as the demo facilitator with the demo PIN; the session cookie."""
    from urllib.parse import urlencode

    from appliance.demo import DEMO_PIN

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    # The login form's CSRF token, and the session cookie that holds it.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/kiosk/login", timeout=10) as r:
        first = r.headers.get("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf" value="([^"]+)"', r.read().decode())[1]
    body = urlencode({"name": "Awa (démo)", "pin": DEMO_PIN, "csrf": token}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/kiosk/login", data=body,
                                     headers={"Cookie": first})
    try:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as e:  # the 303 after a good PIN
        cookie = e.headers.get("Set-Cookie", "")
        if e.code == 303 and cookie:
            return "lang=fr; " + cookie.split(";")[0]
    raise SystemExit("kiosk login with the demo PIN failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


KIOSK_CONNECTIONS = 8  # a browser opens at most 6 per host; the kiosk has one browser
KIOSK_PORTS: dict[int, int] = {}  # the phones' port -> the kiosk's loopback listener


def start(kind: str, site: Path) -> tuple[subprocess.Popen, int]:
    port, kiosk_port = free_port(), free_port()
    KIOSK_PORTS[port] = kiosk_port
    script = SERVE_ESPACE if kind == "espace" else SERVE_HELLO
    proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", script, str(site),
                             str(port), str(kiosk_port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{kind} server did not start")


def wrk(port: int, path: str, headers: dict[str, str], seconds: int, connections: int,
        lua: Path) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "-s", str(lua), "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"ESPACE p50=(\d+) p95=(\d+) requests=(\d+) errors=(\d+)", out)
    return {"rps": rps, "p50_ms": int(m.group(1)) / 1000, "p95_ms": int(m.group(2)) / 1000,
            "errors": int(m.group(4))}


def make_site(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from appliance.demo import create_demo

    return create_demo(tmp / "var", echo=lambda _m: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--tls", action="store_true",
                        help="only the HTTPS-vs-HTTP figures of the secure origin")
    args = parser.parse_args()
    if args.tls:
        tls_bench(args.seconds, args.connections)
        return
    for tool, package in (("wrk", "wrk"), ("taskset", "util-linux")):
        if not shutil.which(tool):
            raise SystemExit(f"needs {tool}: apt-get install {package}")
    if os.cpu_count() < 2:
        print("warning: one CPU only; server and load share it")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        site = make_site(tmp)
        plain_lua = tmp / "report.lua"
        plain_lua.write_text(WRK_LUA)
        session_lua = tmp / "session.lua"
        session_lua.write_text(WRK_LUA + WRK_FOLLOW_COOKIES_LUA)
        results = {}
        servers: dict[str, tuple[subprocess.Popen, int]] = {}
        try:
            for name, kind, path, headers in PAGES:
                if kind not in servers:
                    servers[kind] = start(kind, site)
                proc, port = servers[kind]
                if path.startswith("/kiosk"):  # the kiosk has its own listener
                    port = KIOSK_PORTS[port]
                lua = plain_lua
                connections = args.connections
                if path.startswith("/kiosk"):
                    # One touchscreen's browser: its listener takes 40 connections and
                    # sheds idle ones from 32, so 50 clients measured the shedding.
                    connections = min(connections, KIOSK_CONNECTIONS)
                if headers.get("Cookie") == "KIOSK_COOKIE":
                    headers = {**headers, "Cookie": kiosk_cookie(port)}
                    lua = session_lua
                wrk(port, path, headers, 2, connections, lua)  # warm-up
                r = wrk(port, path, headers, args.seconds, connections, lua)
                r["rss_mb"] = psutil.Process(proc.pid).memory_info().rss / 2**20
                with urllib.request.urlopen(urllib.request.Request(
                        f"http://127.0.0.1:{port}{path}", headers=headers)) as resp:
                    r["bytes"] = len(resp.read())
                results[name] = r
        finally:
            for proc, _port in servers.values():
                proc.terminate()
                proc.wait(timeout=10)
    hello = results["hello"]["rps"]
    print(f"waitress, 8 threads, server on CPU 0; wrk -c{args.connections} "
          f"(kiosk -c{KIOSK_CONNECTIONS}) on CPU 1; {args.seconds}s per page")
    print(f"{'page':<22}{'req/s':>9}{'x hello':>9}{'p50 ms':>9}{'p95 ms':>9}{'RSS MB':>9}"
          f"{'bytes':>8}{'errors':>8}")
    for name, r in results.items():
        print(f"{name:<22}{r['rps']:>9.0f}{r['rps'] / hello:>9.2f}{r['p50_ms']:>9.1f}"
              f"{r['p95_ms']:>9.1f}{r['rss_mb']:>9.1f}{r['bytes']:>8}{r['errors']:>8}")
    landing = results["landing (gzip)"]
    ok = landing["rps"] >= 0.5 * hello and landing["rss_mb"] < 60
    print(f"target: landing >= 0.5x hello and RSS < 60 MB: {'met' if ok else 'NOT met'}")


# --- the secure origin (issue 22) ---------------------------------------------------------


def _self_signed_chain(data_dir: Path, name: str) -> None:
    """A leaf for the box's own key (made as the box makes it), signed by a throwaway CA."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from secure_origin import store

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "bench CA")])
    now = dt.datetime.now(dt.UTC)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
            .issuer_name(ca).public_key(store.private_key(data_dir).public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    store.set_name(data_dir, name, "127.0.0.1")
    store.write_atomic(store.tls_dir(data_dir) / "fullchain.pem",
                       leaf.public_bytes(serialization.Encoding.PEM))


def _s_time(port: int, mode: str, seconds: int) -> float:
    """Handshakes per second by ``openssl s_time`` (-new: full; -reuse: resumed)."""
    out = subprocess.run(["taskset", "-c", "1", "openssl", "s_time", "-connect",
                          f"127.0.0.1:{port}", f"-{mode}", "-time", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    found = re.findall(r"([\d.]+) connections/user sec", out)
    conns = re.findall(r"(\d+) connections in ([\d.]+)s", out)
    if not conns:
        raise SystemExit("openssl s_time said nothing: " + out[-500:])
    n, secs = conns[-1]
    return int(n) / float(secs) if float(secs) else float(found[-1])


def tls_bench(seconds: int, connections: int) -> None:
    """Landing page over HTTPS (nginx -> waitress) vs HTTP (waitress), one core."""
    from appliance.server import PER_ADDRESS

    # wrk comes from one address: nginx allows it what it allows one phone.
    connections = min(connections, PER_ADDRESS - 4)
    from secure_origin import listener

    nginx_bin = shutil.which("nginx", path="/usr/sbin:/sbin:/usr/bin")
    for tool, package in (("wrk", "wrk"), ("taskset", "util-linux"), ("openssl", "openssl")):
        if not shutil.which(tool):
            raise SystemExit(f"needs {tool}: apt-get install {package}")
    if not nginx_bin:
        raise SystemExit("needs nginx: apt-get install nginx-light")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        site = make_site(tmp)
        data_dir = tmp / "var"
        _self_signed_chain(data_dir, "bench.espaces.example")
        lua = tmp / "report.lua"
        lua.write_text(WRK_LUA)
        proc, port = start("espace", site)
        tls_port = free_port()
        conf = listener.write_nginx(data_dir, tmp / "nginx", listen=f"127.0.0.1:{tls_port}",
                                    upstream=f"127.0.0.1:{port}", max_body=4 << 20)
        nginx = subprocess.Popen(["taskset", "-c", "0", nginx_bin, "-c", str(conf), "-g",
                                  "daemon off;"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        results: dict[str, dict] = {}
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("nginx did not start") from None
                    time.sleep(0.1)
            headers = {"Cookie": "lang=fr", "Accept-Encoding": "gzip"}
            workers = [p for p in psutil.Process(nginx.pid).children()]
            for label, url_port, scheme, extra in (
                    ("landing HTTP keep-alive", port, "http", {}),
                    ("landing HTTPS keep-alive", tls_port, "https", {}),
                    ("landing HTTP new conn.", port, "http", {"Connection": "close"}),
                    ("landing HTTPS new conn.", tls_port, "https", {"Connection": "close"})):
                h = {**headers, **extra}
                _wrk_url(f"{scheme}://127.0.0.1:{url_port}/", h, 2, connections, lua)
                results[label] = _wrk_url(f"{scheme}://127.0.0.1:{url_port}/", h, seconds,
                                          connections, lua)
            cpu = {}
            for mode in ("new", "reuse"):
                before = sum(sum(w.cpu_times()[:2]) for w in workers)
                rate = _s_time(tls_port, mode, seconds)
                spent = sum(sum(w.cpu_times()[:2]) for w in workers) - before
                cpu[mode] = (rate, spent / max(rate * seconds, 1) * 1000)
            rss = sum(w.memory_info().rss for w in [psutil.Process(nginx.pid), *workers])
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
            proc.terminate()
            proc.wait(timeout=10)
    plain = results["landing HTTP keep-alive"]["rps"]
    print(f"secure origin: waitress and nginx (1 worker) on CPU 0, load on CPU 1; "
          f"wrk -c{connections}, {seconds}s; P-256 key, TLS 1.3")
    print(f"{'page':<28}{'req/s':>9}{'x HTTP':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}")
    for name, r in results.items():
        print(f"{name:<28}{r['rps']:>9.0f}{r['rps'] / plain:>9.2f}{r['p50_ms']:>9.1f}"
              f"{r['p95_ms']:>9.1f}{r['errors']:>8}")
    for mode, label in (("new", "full handshakes"), ("reuse", "resumed handshakes")):
        rate, ms = cpu[mode]
        print(f"{label:<28}{rate:>9.0f}/s   nginx CPU {ms:.2f} ms each")
    print(f"nginx RSS (master + worker): {rss / 2**20:.1f} MB")


def _wrk_url(url: str, headers: dict[str, str], seconds: int, connections: int,
             lua: Path) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "-s", str(lua), "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"ESPACE p50=(\d+) p95=(\d+) requests=(\d+) errors=(\d+)", out)
    return {"rps": rps, "p50_ms": int(m.group(1)) / 1000, "p95_ms": int(m.group(2)) / 1000,
            "errors": int(m.group(4))}


if __name__ == "__main__":
    main()
