"""A hotspot in network namespaces, with no Wi-Fi hardware: for tests and benchmarks.

:class:`HotspotLab` makes a *box* namespace whose hotspot interface is a bridge (it
plays the Wi-Fi access point) and *phone* namespaces, each joined to that bridge by
a veth pair (:meth:`HotspotLab.add_phone` adds more); it loads the rendered nftables
ruleset (and, in shared-uplink mode, the rendered queueing) and runs the rendered
dnsmasq config and the portal (``espace serve``) in the box. A phone gets its
address by DHCP (busybox-style ``udhcpc``) and runs ``python -m provisioning.lab
...`` commands (probe fetches, acceptance, downloads) inside its namespace.
Addresses exist only inside the namespaces. :meth:`HotspotLab.close`
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

from . import render, shaping

BOX_ADDRESS = "10.199.0.1"
SUBNET = "10.199.0.0/24"
# Shared-uplink mode: a third namespace plays the internet, with its own DNS server
# answering every name with one web server.
UPLINK_BOX = "172.31.0.2"
UPLINK_GATEWAY = "172.31.0.1"
UPLINK_SUBNET = "172.31.0.0/24"
INTERNET_SERVER = "203.0.113.10"
# IPv6, only after enable_ipv6() (the box sends no router advertisements).
INTERNET_SERVER6 = "2001:db8:ff::10"
UPLINK_BOX6, UPLINK_GATEWAY6 = "2001:db8:1::2", "2001:db8:1::1"
HOTSPOT_PREFIX6, BOX_ADDRESS6 = "2001:db8:2::", "2001:db8:2::1"
READY_TIMEOUT = 60.0
# The test kernel has no fq_codel: the lab's queues end in pfifo (see shaping.py).
LAB_LEAF_QDISC = "pfifo"


def _dump_toml(doc: dict) -> str:
    lines = []
    for section, values in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {settings.toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


class Phone:
    """One phone: a namespace joined to the box's bridge by a veth pair."""

    def __init__(self, lab: HotspotLab, suffix: str) -> None:
        self.lab = lab
        self.ns = f"espph{lab.tag}{suffix}"
        self.ifname = f"eph{lab.tag}{suffix}"
        self.box_port = f"ebp{lab.tag}{suffix}"
        self.netns_etc = Path("/etc/netns", self.ns)
        self.suffix = suffix
        self.dhcp_env: dict[str, str] = {}

    def create(self) -> None:
        ip = self.lab._ip
        ip("netns", "add", self.ns)
        ip("link", "add", self.box_port, "type", "veth", "peer", "name", self.ifname)
        ip("link", "set", self.box_port, "netns", self.lab.box)
        ip("link", "set", self.ifname, "netns", self.ns)
        ip("-n", self.lab.box, "link", "set", self.box_port, "master", self.lab.box_if)
        ip("-n", self.lab.box, "link", "set", self.box_port, "up")
        ip("-n", self.ns, "link", "set", "lo", "up")
        ip("-n", self.ns, "link", "set", self.ifname, "up")
        self.netns_etc.mkdir(parents=True, exist_ok=True)
        (self.netns_etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True,
                              text=True, check=kw.pop("check", True), **kw)

    def run_lab(self, *args: str, timeout: float = 120) -> object:
        """Run ``python -m provisioning.lab ARGS`` on the phone; its JSON answer."""
        done = self.run([self.lab.python, "-m", "provisioning.lab", *args], timeout=timeout,
                        cwd=str(Path(__file__).resolve().parent.parent))
        return json.loads(done.stdout)

    def spawn_lab(self, *args: str, log: str) -> subprocess.Popen:
        """Start ``python -m provisioning.lab ARGS`` on the phone in the background."""
        return self.lab._spawn(self.ns, [self.lab.python, "-m", "provisioning.lab", *args],
                               log)

    def dhcp(self) -> dict[str, str]:
        """Ask for an address (and option 114); returns udhcpc's variables and
        configures the interface, route and resolver from them."""
        script = self.lab.workdir / f"udhcpc{self.suffix}.script"
        env_file = self.lab.workdir / f"udhcpc{self.suffix}.env"
        # udhcpc calls the script with the lease in its environment; keep it as JSON.
        script.write_text(f"#!{self.lab.python}\nimport json, os, sys\n"
                          f"if sys.argv[1] in ('bound', 'renew'):\n"
                          f"    open({str(env_file)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
        script.chmod(0o755)
        udhcpc = shutil.which("udhcpc", path="/usr/sbin:/sbin:/usr/bin:/bin") or "udhcpc"
        self.run([udhcpc, "-i", self.ifname, "-n", "-q", "-f", "-t", "5", "-T", "2",
                  "-O", "114", "-s", str(script)], timeout=60)
        env = json.loads(env_file.read_text())
        mask = sum(bin(int(x)).count("1") for x in env["subnet"].split("."))
        self.set_address(env["ip"], mask, env["router"].split()[0])
        (self.netns_etc / "resolv.conf").write_text(
            "".join(f"nameserver {d}\n" for d in env["dns"].split()))
        self.dhcp_env = env
        return env

    def set_address(self, address: str, prefix: int = 24, router: str = BOX_ADDRESS) -> None:
        """Give the phone this IPv4 address (as a static set-up would), instead of any
        it had."""
        ip = self.lab._ip
        ip("-n", self.ns, "-4", "address", "flush", "dev", self.ifname)
        ip("-n", self.ns, "address", "add", f"{address}/{prefix}", "dev", self.ifname)
        ip("-n", self.ns, "route", "replace", "default", "via", router)

    def mac(self) -> str:
        # `ip netns exec` mounts the namespace's own /sys.
        return self.run(["cat", f"/sys/class/net/{self.ifname}/address"]).stdout.strip()


class HotspotLab:
    def __init__(self, workdir: Path, site_doc: dict, *, python: str = sys.executable,
                 tag: str | None = None, uplink: bool = False, helper: bool = False,
                 uplink_kbit: int = 0) -> None:
        self.workdir = Path(workdir)
        self.tag = tag or f"{os.getpid() % 1000:03d}{secrets.token_hex(2)}"
        self.box = f"espbox{self.tag}"
        self.box_if = f"ehs{self.tag}"  # the box's "Wi-Fi" interface (a bridge)
        self.python = python
        self.uplink = uplink
        # The internet's side of the uplink is limited to this rate (tbf), as a 3G link.
        self.uplink_kbit = uplink_kbit
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
        self.phones = [Phone(self, "")]
        self.leases = self.workdir / "dnsmasq.leases"
        self.closed = False

    # The first phone, by its old names.
    @property
    def phone(self) -> str:
        return self.phones[0].ns

    @property
    def phone_if(self) -> str:
        return self.phones[0].ifname

    @property
    def netns_etc(self) -> Path:
        return self.phones[0].netns_etc

    @property
    def dhcp_env(self) -> dict[str, str]:
        return self.phones[0].dhcp_env

    def phone_run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return self.phones[0].run(argv, **kw)

    def phone_lab(self, *args: str, timeout: float = 120) -> object:
        return self.phones[0].run_lab(*args, timeout=timeout)

    def dhcp(self) -> dict[str, str]:
        return self.phones[0].dhcp()

    def phone_mac(self) -> str:
        return self.phones[0].mac()

    def add_phone(self) -> Phone:
        """Another phone on the hotspot (no address yet: call its dhcp())."""
        phone = Phone(self, "abcdefghij"[len(self.phones) - 1])
        self.phones.append(phone)
        phone.create()
        return phone

    # --- running things ---------------------------------------------------------------

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def box_run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.box, *argv], capture_output=True,
                              text=True, check=kw.pop("check", True), **kw)

    def box_lab(self, *args: str, timeout: float = 120) -> object:
        """``python -m provisioning.lab ARGS`` as the box itself (its own traffic)."""
        done = self.box_run([self.python, "-m", "provisioning.lab", *args], timeout=timeout,
                            cwd=str(Path(__file__).resolve().parent.parent))
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
        render.render_system(self.site, self.rendered, leaf_qdisc=LAB_LEAF_QDISC)
        self._ip("netns", "add", self.box)
        self._ip("-n", self.box, "link", "set", "lo", "up")
        self._ip("-n", self.box, "link", "add", "name", self.box_if, "type", "bridge")
        net = self.site.hotspot.subnet.split("/")[1]
        self._ip("-n", self.box, "address", "add", f"{BOX_ADDRESS}/{net}", "dev", self.box_if)
        self._ip("-n", self.box, "link", "set", self.box_if, "up")
        # The bridge only plays the access point: frames between its ports must not
        # go through the IP hooks a second time (br_netfilter), as on a real Wi-Fi
        # interface. (With it, the reset of a redirected HTTPS connection is lost.)
        for table in ("iptables", "ip6tables", "arptables"):
            self.box_run(["sysctl", "-q", "-w", f"net.bridge.bridge-nf-call-{table}=0"],
                         check=False)
        self.phones[0].create()
        if self.uplink:
            self._start_internet()
        self.load_rules()
        self.box_run(["sysctl", "-q", "-p", str(self.rendered / "etc/sysctl.d/90-espace.conf")])
        self.dnsmasq = self._spawn(self.box, [
            shutil.which("dnsmasq", path="/usr/sbin:/sbin") or "dnsmasq",
            "--keep-in-foreground", "--conf-file=" + str(
                self.rendered / "etc/dnsmasq.d/espace.conf"),
            f"--dhcp-leasefile={self.leases}", f"--pid-file={self.workdir / 'dnsmasq.pid'}",
            "--user=root", "--log-facility=-", "--log-dhcp", "--log-queries"],
            "dnsmasq.log")
        self.portal_env = None
        if self.helper:
            self.start_helper()
            self.portal_env = {**os.environ, "ESPACE_ALLOWLIST": f"socket:{self.helper_socket}"}
        self.start_portal()

    def load_rules(self) -> None:
        """The rendered ruleset, and the uplink's queueing when the site has it (what
        nftables.service and espace-shaping.service do at boot)."""
        self.box_run(["nft", "-f", str(self.rendered / "etc/espace/nftables.nft")])
        if self.uplink and shaping.enabled(self.site):
            for argv in shaping.setup_commands(self.site):
                self.box_run(argv, check=argv[1] != "qdisc")
            self.box_run(["tc", "-batch", str(self.rendered / render.SHAPING.lstrip("/"))])

    def start_helper(self) -> subprocess.Popen:
        """The root helper on its socket (as espace-allowlist.service)."""
        with contextlib.suppress(FileNotFoundError):
            self.helper_socket.unlink()
        self.helper_proc = self._spawn(self.box, [
            str(Path(self.python).parent / "espace"), "network", "allowlist-helper", "--site",
            str(self.site_file), "--listen", str(self.helper_socket)], "helper.log")
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.helper_socket.exists():
            if self.helper_proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("helper socket did not appear: " + self.log("helper.log"))
            time.sleep(0.05)
        return self.helper_proc

    def stop(self, proc: subprocess.Popen) -> None:
        """Stop one process the way systemd does (SIGTERM, then wait)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    def start_portal(self) -> None:
        self.portal = self._spawn(self.box, [
            str(Path(self.python).parent / "espace"), "serve", "--site", str(self.site_file),
            "--host", "0.0.0.0", "--port", "80", "--threads", "4"], "portal.log",  # noqa: S104
            env=self.portal_env)
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
        if self.uplink_kbit:
            # The uplink's own download rate, as a 3G link would have (tbf: this
            # kernel has no netem). The box's side is the box's own queueing.
            self._ip("netns", "exec", self.internet, "tc", "qdisc", "add", "dev",
                     self.internet_if, "root", "tbf", "rate", f"{self.uplink_kbit}kbit",
                     "burst", "32kb", "latency", "100ms")
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
        self._start_internet_server(INTERNET_SERVER, "internet-http.log")

    def _start_internet_server(self, address: str, log: str) -> None:
        server = self._spawn(self.internet, [self.python, "-m", "provisioning.lab",
                                             "internet-server", address], log)
        family = "AF_INET6" if ":" in address else "AF_INET"
        check = [self.python, "-c", f"import socket; s = socket.socket(socket.{family}); "
                 f"s.settimeout(1); s.connect(('{address}', 80)); s.close()"]
        deadline = time.monotonic() + READY_TIMEOUT
        while subprocess.run(["ip", "netns", "exec", self.internet, *check],
                             capture_output=True, check=False).returncode != 0:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("internet server did not start: " + self.log(log)[-2000:])
            time.sleep(0.1)

    def enable_ipv6(self) -> str:
        """Route IPv6 by hand (the box sends no router advertisements, but a phone or
        a technician could set this up): addresses on every side, forwarding on in
        the box, an internet server on IPv6. Returns the first phone's address."""
        phone6 = f"{HOTSPOT_PREFIX6}100"
        ip = self._ip
        ip("-n", self.box, "address", "add", f"{BOX_ADDRESS6}/64", "dev", self.box_if, "nodad")
        ip("-n", self.box, "address", "add", f"{UPLINK_BOX6}/64", "dev", self.uplink_if, "nodad")
        ip("-n", self.box, "-6", "route", "add", "default", "via", UPLINK_GATEWAY6)
        self.box_run(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
        ip("-n", self.internet, "address", "add", f"{INTERNET_SERVER6}/128", "dev", "lo")
        ip("-n", self.internet, "address", "add", f"{UPLINK_GATEWAY6}/64", "dev",
           self.internet_if, "nodad")
        ip("-n", self.internet, "-6", "route", "add", f"{HOTSPOT_PREFIX6}/64", "via",
           UPLINK_BOX6)
        ip("-n", self.phone, "address", "add", f"{phone6}/64", "dev", self.phone_if, "nodad")
        ip("-n", self.phone, "-6", "route", "add", "default", "via", BOX_ADDRESS6)
        # The box's rules refuse ICMPv6 from phones, neighbour discovery included: the
        # hand-made set-up gives each side the other's MAC.
        box_mac = self.box_run(["cat", f"/sys/class/net/{self.box_if}/address"]).stdout.strip()
        ip("-n", self.phone, "-6", "neigh", "replace", BOX_ADDRESS6, "lladdr", box_mac, "dev",
           self.phone_if, "nud", "permanent")
        ip("-n", self.box, "-6", "neigh", "replace", phone6, "lladdr", self.phone_mac(), "dev",
           self.box_if, "nud", "permanent")
        self._start_internet_server(INTERNET_SERVER6, "internet-http6.log")
        return phone6

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
        namespaces = [p.ns for p in self.phones] + [self.box]
        for ns in namespaces + ([self.internet] if self.uplink else []):
            # Anything still running in the namespace was started by this lab.
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for phone in self.phones:
            shutil.rmtree(phone.netns_etc, ignore_errors=True)
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

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        daemon_threads = True

    Server((address, 80), Handler).serve_forever()


def _download(url: str, timeout: float) -> dict:
    """Bytes received from ``url`` before the end or a stall of ``timeout`` seconds."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    address = socket.getaddrinfo(parts.hostname, 80, type=socket.SOCK_STREAM)[0][4][0]
    got = 0
    outcome = "complete"
    started = time.monotonic()
    try:
        with socket.create_connection((address, 80), timeout=timeout) as s:
            s.sendall(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
            try:
                while data := s.recv(65536):
                    got += len(data)
            except TimeoutError:
                outcome = "stalled"
    except ConnectionResetError:
        outcome = "reset"
    except TimeoutError:
        outcome = "timeout"
    except OSError as e:
        outcome = f"error: {e}"
    return {"bytes": got, "outcome": outcome, "seconds": time.monotonic() - started}


def _rate(url: str, seconds: float, marker: str = "") -> dict:
    """Download from ``url`` for ``seconds``; bytes per second. With ``marker``, that
    file is created once the first bytes came (so a test knows the flow runs)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    address = socket.getaddrinfo(parts.hostname, 80, type=socket.SOCK_STREAM)[0][4][0]
    got = 0
    with socket.create_connection((address, 80), timeout=30) as s:
        s.sendall(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        got += len(s.recv(65536))
        if marker:
            Path(marker).touch()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            data = s.recv(65536)
            if not data:
                break
            got += len(data)
    return {"bytes": got, "seconds": elapsed, "bytes_per_second": got / elapsed}


def _hold(host: str, port: int, count: int, marker: str, limit: float) -> dict:
    """Open ``count`` idle TCP connections to ``host:port`` and keep them open until
    ``limit`` seconds pass or the process is stopped; the outcomes are written to
    ``marker`` as JSON once every attempt is done."""
    held, outcomes = [], {"open": 0, "refused": 0, "timeout": 0, "error": 0}
    for _ in range(count):
        try:
            held.append(socket.create_connection((host, port), timeout=5))
            outcomes["open"] += 1
        except ConnectionRefusedError:
            outcomes["refused"] += 1
        except TimeoutError:
            outcomes["timeout"] += 1
        except OSError:
            outcomes["error"] += 1
    # A closed connection (the server gave up on it) is not held: count those still open.
    Path(marker).write_text(json.dumps(outcomes))
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
    for s in held:
        s.close()
    return outcomes


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
    elif command == "rate":
        result = _rate(args[0], float(args[1]), args[2] if len(args) > 2 else "")
    elif command == "hold":
        result = _hold(args[0], int(args[1]), int(args[2]), args[3], float(args[4]))
    elif command == "fetch":
        result = fetch(args[0], args[1] if len(args) > 1 else "")
    elif command == "accept":
        # Tap Enter, then the first success answer to the Android probe.
        started = time.monotonic()
        r = fetch(args[0], "Mozilla/5.0 (Linux; Android 13)", method="POST", body=b"enter=1")
        # A second argument: how long to wait for the probe's success (0: ask once).
        after = _wait_success("http://connectivitycheck.gstatic.com/generate_204",
                              "Dalvik/2.1.0 (Linux; U; Android 13)", 204,
                              float(args[1]) if len(args) > 1 else 30)
        result = {"status": r["status"], "location": r["headers"].get("location"),
                  "enter_seconds": r["seconds"], "probe": after,
                  "total_seconds": time.monotonic() - started}
    else:
        raise SystemExit(f"unknown command {command!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
