"""A hotspot in network namespaces, with no Wi-Fi hardware: for tests and benchmarks.

:class:`HotspotLab` makes a *box* namespace and a *phone* namespace joined by a veth
pair (the box's end plays the Wi-Fi interface), loads the rendered nftables ruleset
and runs the rendered dnsmasq config and the portal (``espace serve``) in the box.
The phone gets its address by DHCP (busybox-style ``udhcpc``) and runs
``python -m provisioning.lab ...`` commands (probe fetches, acceptance) inside its
namespace. Addresses exist only inside the namespaces. :meth:`HotspotLab.close`
kills what it started and deletes the namespaces, whatever happened; it is safe to
call twice.

Needs root, iproute2, nftables, dnsmasq and udhcpc.
"""

# Test tooling: every command is a fixed argv of system programs found on PATH.
# ruff: noqa: S603, S607

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from appliance import settings

from . import render

BOX_ADDRESS = "10.199.0.1"
SUBNET = "10.199.0.0/24"
# Shared-uplink mode: a third namespace plays the internet, with its own DNS server
# answering every name with one web server.
UPLINK_BOX = "172.31.0.2"
UPLINK_GATEWAY = "172.31.0.1"
UPLINK_SUBNET = "172.31.0.0/24"
INTERNET_SERVER = "203.0.113.10"
READY_TIMEOUT = 60.0


def _dump_toml(doc: dict) -> str:
    lines = []
    for section, values in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {settings.toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


class HotspotLab:
    def __init__(self, workdir: Path, site_doc: dict, *, python: str = sys.executable,
                 tag: str | None = None, uplink: bool = False, helper: bool = False) -> None:
        self.workdir = Path(workdir)
        self.tag = tag or f"{os.getpid() % 1000:03d}{secrets.token_hex(2)}"
        self.box = f"espbox{self.tag}"
        self.phone = f"espph{self.tag}"
        self.box_if = f"ehs{self.tag}"  # the box's "Wi-Fi" interface
        self.phone_if = f"eph{self.tag}"
        self.python = python
        self.uplink = uplink
        # helper: the portal changes the sets through the root helper on a Unix socket,
        # as on the box (espace-allowlist.socket/.service).
        self.helper = helper
        self.helper_socket = self.workdir / "allowlist.sock"
        self.internet = f"espnet{self.tag}"
        self.uplink_if = f"eup{self.tag}"
        self.internet_if = f"ein{self.tag}"
        doc = {k: dict(v) for k, v in site_doc.items()}
        doc.setdefault("hotspot", {}).update(
            {"interface": self.box_if, "address": BOX_ADDRESS, "subnet": SUBNET})
        if uplink:
            doc.setdefault("uplink", {}).update(
                {"interface": self.uplink_if, "subnet": UPLINK_SUBNET})
        self.site_file = self.workdir / "site.toml"
        self.site_file.write_text(_dump_toml(doc))
        self.site = settings.load(self.site_file)
        self.rendered = self.workdir / "rendered"
        self.procs: list[subprocess.Popen] = []
        self.netns_etc = Path("/etc/netns", self.phone)
        self.leases = self.workdir / "dnsmasq.leases"
        self.dhcp_env: dict[str, str] = {}
        self.closed = False

    # --- running things ---------------------------------------------------------------

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def box_run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.box, *argv], capture_output=True,
                              text=True, check=kw.pop("check", True), **kw)

    def phone_run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.phone, *argv],
                              capture_output=True, text=True, check=kw.pop("check", True),
                              **kw)

    def phone_lab(self, *args: str, timeout: float = 120) -> object:
        """Run ``python -m provisioning.lab ARGS`` on the phone; its JSON answer."""
        done = self.phone_run([self.python, "-m", "provisioning.lab", *args],
                              timeout=timeout, cwd=str(Path(__file__).resolve().parent.parent))
        return json.loads(done.stdout)

    def _spawn(self, ns: str, argv: list[str], log: str,
               env: dict | None = None) -> subprocess.Popen:
        out = open(self.workdir / log, "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                cwd=str(Path(__file__).resolve().parent.parent))
        proc.log = out  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    # --- set up -------------------------------------------------------------------------

    def __enter__(self) -> HotspotLab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        render.render_system(self.site, self.rendered)
        self._ip("netns", "add", self.box)
        self._ip("netns", "add", self.phone)
        self._ip("link", "add", self.box_if, "type", "veth", "peer", "name", self.phone_if)
        self._ip("link", "set", self.box_if, "netns", self.box)
        self._ip("link", "set", self.phone_if, "netns", self.phone)
        for ns in (self.box, self.phone):
            self._ip("-n", ns, "link", "set", "lo", "up")
        net = self.site.hotspot.subnet.split("/")[1]
        self._ip("-n", self.box, "address", "add", f"{BOX_ADDRESS}/{net}", "dev", self.box_if)
        self._ip("-n", self.box, "link", "set", self.box_if, "up")
        self._ip("-n", self.phone, "link", "set", self.phone_if, "up")
        if self.uplink:
            self._start_internet()
        self.box_run(["nft", "-f", str(self.rendered / "etc/espace/nftables.nft")])
        self.box_run(["sysctl", "-q", "-p", str(self.rendered / "etc/sysctl.d/90-espace.conf")])
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        (self.netns_etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        self.dnsmasq = self._spawn(self.box, [
            shutil.which("dnsmasq", path="/usr/sbin:/sbin") or "dnsmasq",
            "--keep-in-foreground", "--conf-file=" + str(
                self.rendered / "etc/dnsmasq.d/espace.conf"),
            f"--dhcp-leasefile={self.leases}", f"--pid-file={self.workdir / 'dnsmasq.pid'}",
            "--user=root", "--log-facility=-", "--log-dhcp", "--log-queries"],
            "dnsmasq.log")
        portal_env = None
        if self.helper:
            self._spawn(self.box, [str(Path(self.python).parent / "espace"), "network",
                                   "allowlist-helper", "--site", str(self.site_file),
                                   "--listen", str(self.helper_socket)], "helper.log")
            deadline = time.monotonic() + READY_TIMEOUT
            while not self.helper_socket.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("helper socket did not appear: " + self.log("helper.log"))
                time.sleep(0.05)
            portal_env = {**os.environ, "ESPACE_ALLOWLIST": f"socket:{self.helper_socket}"}
        self.portal = self._spawn(self.box, [
            str(Path(self.python).parent / "espace"), "serve", "--site", str(self.site_file),
            "--host", "0.0.0.0", "--port", "80", "--threads", "4"], "portal.log",  # noqa: S104
            env=portal_env)
        self._wait_portal()

    def _start_internet(self) -> None:
        self._ip("netns", "add", self.internet)
        self._ip("link", "add", self.uplink_if, "type", "veth", "peer", "name",
                 self.internet_if)
        self._ip("link", "set", self.uplink_if, "netns", self.box)
        self._ip("link", "set", self.internet_if, "netns", self.internet)
        self._ip("-n", self.internet, "link", "set", "lo", "up")
        self._ip("-n", self.internet, "address", "add", f"{INTERNET_SERVER}/32", "dev", "lo")
        self._ip("-n", self.internet, "address", "add", f"{UPLINK_GATEWAY}/24", "dev",
                 self.internet_if)
        self._ip("-n", self.internet, "link", "set", self.internet_if, "up")
        self._ip("-n", self.box, "address", "add", f"{UPLINK_BOX}/24", "dev", self.uplink_if)
        self._ip("-n", self.box, "link", "set", self.uplink_if, "up")
        self._ip("-n", self.box, "route", "add", "default", "via", UPLINK_GATEWAY)
        # The box's dnsmasq forwards to the "internet's" DNS server.
        box_etc = Path("/etc/netns", self.box)
        box_etc.mkdir(parents=True, exist_ok=True)
        (box_etc / "resolv.conf").write_text(f"nameserver {UPLINK_GATEWAY}\n")
        self._spawn(self.internet, [
            shutil.which("dnsmasq", path="/usr/sbin:/sbin") or "dnsmasq",
            "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            f"--address=/#/{INTERNET_SERVER}", f"--listen-address={UPLINK_GATEWAY}",
            "--bind-interfaces", f"--pid-file={self.workdir / 'internet-dns.pid'}",
            "--user=root", "--log-facility=-"], "internet-dns.log")
        server = self._spawn(self.internet, [self.python, "-m", "provisioning.lab",
                                             "internet-server", INTERNET_SERVER],
                             "internet-http.log")
        deadline = time.monotonic() + READY_TIMEOUT
        check = [self.python, "-c", "import socket; socket.create_connection("
                 f"('{INTERNET_SERVER}', 80), timeout=1).close()"]
        while subprocess.run(["ip", "netns", "exec", self.internet, *check],
                             capture_output=True, check=False).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("internet server did not start: "
                                   + self.log("internet-http.log")[-2000:])
            time.sleep(0.1)

    def _wait_portal(self) -> None:
        """Until the portal answers on the box (a readiness poll, not a timing)."""
        deadline = time.monotonic() + READY_TIMEOUT
        probe = [self.python, "-c", "import socket; socket.create_connection("
                 f"('{BOX_ADDRESS}', 80), timeout=1).close()"]
        while True:
            if self.portal.poll() is not None:
                raise RuntimeError("portal exited: " + self.log("portal.log")[-2000:])
            if self.box_run(probe, check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("portal did not start: " + self.log("portal.log")[-2000:])
            time.sleep(0.2)

    def log(self, name: str) -> str:
        try:
            return (self.workdir / name).read_text(errors="replace")
        except OSError:
            return ""

    def dhcp(self) -> dict[str, str]:
        """The phone asks for an address (and option 114); returns udhcpc's variables
        and configures the phone's interface, route and resolver from them."""
        script = self.workdir / "udhcpc.script"
        env_file = self.workdir / "udhcpc.env"
        # udhcpc calls the script with the lease in its environment; keep it as JSON.
        script.write_text(f"#!{self.python}\nimport json, os, sys\n"
                          f"if sys.argv[1] in ('bound', 'renew'):\n"
                          f"    open({str(env_file)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
        script.chmod(0o755)
        udhcpc = shutil.which("udhcpc", path="/usr/sbin:/sbin:/usr/bin:/bin") or "udhcpc"
        self.phone_run([udhcpc, "-i", self.phone_if, "-n", "-q", "-f", "-t", "5", "-T", "2",
                        "-O", "114", "-s", str(script)], timeout=60)
        env = json.loads(env_file.read_text())
        mask = sum(bin(int(x)).count("1") for x in env["subnet"].split("."))
        self._ip("-n", self.phone, "address", "add", f"{env['ip']}/{mask}", "dev",
                 self.phone_if)
        self._ip("-n", self.phone, "route", "add", "default", "via", env["router"].split()[0])
        (self.netns_etc / "resolv.conf").write_text(
            "".join(f"nameserver {d}\n" for d in env["dns"].split()))
        self.dhcp_env = env
        return env

    def phone_mac(self) -> str:
        # `ip netns exec` mounts the namespace's own /sys.
        return self.phone_run(["cat", f"/sys/class/net/{self.phone_if}/address"]).stdout.strip()

    # --- tear down ------------------------------------------------------------------------

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            proc.log.close()  # type: ignore[attr-defined]
        for ns in (self.phone, self.box, *([self.internet] if self.uplink else [])):
            # Anything still running in the namespace was started by this lab.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(self.netns_etc, ignore_errors=True)
        shutil.rmtree(Path("/etc/netns", self.box), ignore_errors=True)


# --- the phone's side (run inside the phone namespace) -------------------------------------


def fetch(url: str, user_agent: str = "", method: str = "GET", body: bytes | None = None,
          timeout: float = 10) -> dict:
    """One HTTP request the way an OS probe makes it: resolve the name with the
    system resolver, connect, send ``Host`` and ``User-Agent``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    started = time.monotonic()
    address = socket.getaddrinfo(parts.hostname, parts.port or 80, socket.AF_INET,
                                 socket.SOCK_STREAM)[0][4][0]
    conn = http.client.HTTPConnection(address, parts.port or 80, timeout=timeout)
    try:
        headers = {"Host": parts.netloc, "User-Agent": user_agent, "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else "") or "/",
                     body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return {"url": url, "address": address, "status": r.status,
                "headers": {k.lower(): v for k, v in r.getheaders()},
                "body": data.decode("utf-8", "replace"), "seconds": time.monotonic() - started}
    finally:
        conn.close()


def connect(host: str, port: int, timeout: float = 10) -> dict:
    """How a TCP connection ends: ``refused`` (a reset), ``timeout`` or ``open``."""
    started = time.monotonic()
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET)[0][4][0]
        socket.create_connection((address, port), timeout=timeout).close()
        outcome = "open"
    except ConnectionRefusedError:
        outcome = "refused"
    except TimeoutError:
        outcome = "timeout"
    except OSError as e:
        outcome = f"error: {e}"
    return {"host": host, "port": port, "outcome": outcome,
            "seconds": time.monotonic() - started}


def _probe_all() -> list[dict]:
    from captive_portal import probes

    out = []
    for probe in probes.load():
        for url in probe.urls():
            r = fetch(url, probe.user_agent)
            r["probe"] = probe.name
            out.append(r)
    return out


def _resolve(hosts: list[str]) -> dict[str, str]:
    out = {}
    for host in hosts:
        try:
            out[host] = socket.getaddrinfo(host, 80, socket.AF_INET)[0][4][0]
        except OSError as e:
            out[host] = f"error: {e}"
    return out


def _wait_success(url: str, user_agent: str, status: int, limit: float) -> dict:
    """Poll a probe until it gets its success status; how long that took."""
    started = time.monotonic()
    tries = 0
    while True:
        tries += 1
        r = fetch(url, user_agent)
        if r["status"] == status:
            return {"seconds": time.monotonic() - started, "tries": tries}
        if time.monotonic() - started > limit:
            return {"seconds": None, "tries": tries}


def _internet_server(address: str) -> None:
    """Plays the internet: Google's 204, and a large download for quota tests."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path.endswith(("/generate_204", "/gen_204")):
                self.send_response(204)
                self.send_header("X-Internet", "yes")
                self.end_headers()
                return
            size = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/bytes/") else 8
            self.send_response(200)
            self.send_header("X-Internet", "yes")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            left = size
            while left > 0:
                self.wfile.write(chunk[:left])
                left -= len(chunk)

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer((address, 80), Handler).serve_forever()


def _download(url: str, timeout: float) -> dict:
    """Bytes received from ``url`` before the end or a stall of ``timeout`` seconds."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    address = socket.getaddrinfo(parts.hostname, 80, socket.AF_INET)[0][4][0]
    got = 0
    outcome = "complete"
    with socket.create_connection((address, 80), timeout=timeout) as s:
        s.sendall(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        try:
            while data := s.recv(65536):
                got += len(data)
        except TimeoutError:
            outcome = "stalled"
    return {"bytes": got, "outcome": outcome}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0)
    if command == "probes":
        result: object = _probe_all()
    elif command == "resolve":
        result = _resolve(args)
    elif command == "connect":
        result = [connect(h, int(p)) for h, p in (a.rsplit(":", 1) for a in args)]
    elif command == "internet-server":
        _internet_server(args[0])
        return
    elif command == "download":
        result = _download(args[0], float(args[1]) if len(args) > 1 else 3.0)
    elif command == "fetch":
        result = fetch(args[0], args[1] if len(args) > 1 else "")
    elif command == "accept":
        # Tap Enter, then the first success answer to the Android probe.
        started = time.monotonic()
        r = fetch(args[0], "Mozilla/5.0 (Linux; Android 13)", method="POST", body=b"enter=1")
        after = _wait_success("http://connectivitycheck.gstatic.com/generate_204",
                              "Dalvik/2.1.0 (Linux; U; Android 13)", 204, 30)
        result = {"status": r["status"], "location": r["headers"].get("location"),
                  "enter_seconds": r["seconds"], "probe": after,
                  "total_seconds": time.monotonic() - started}
    else:
        raise SystemExit(f"unknown command {command!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
