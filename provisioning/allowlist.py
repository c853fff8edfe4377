"""The portal's allow-list: accepted phones, kept in nftables sets with a timeout.

The web process never runs a command built from request data. It calls
:meth:`Allowlist.accept` with a MAC and an IP; these are validated here (a MAC is six
hex pairs, an IP is an IPv4 address inside the hotspot subnet) and sent as JSON to
``nft -j -f -`` (an argv list, the request on stdin), either directly (when the
process may, e.g. a root test in a namespace) or through the small root helper
``espace network allowlist-helper``, a small root service started by systemd on the
first connection to ``/run/espace-allowlist.sock`` (see
``templates/espace-allowlist.socket.j2``).

Elements: ``@allowed_mac`` (ether_addr), ``@allowed_ip`` (ipv4_addr, used when the MAC
is unknown), and in uplink mode a named quota per address in ``@client_quota``.
The sets live in the kernel only: a reboot forgets them, and a phone then sees the
portal once more.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Protocol

FAMILY, TABLE = "inet", "espace"
SOCKET_PATH = "/run/espace-allowlist.sock"
MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
MAX_SECONDS = 168 * 3600
NFT_TIMEOUT = 10


class AllowlistError(Exception):
    """The allow-list could not be changed or read."""


def valid_mac(value: object) -> str:
    if not isinstance(value, str) or not MAC_RE.fullmatch(value.lower()):
        raise AllowlistError(f"not a MAC address: {value!r}")
    mac = value.lower()
    if mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1:
        raise AllowlistError(f"not a phone's MAC address: {value!r}")
    return mac


def valid_ip(value: object, subnet: str | None = None) -> str:
    try:
        ip = ipaddress.IPv4Address(value if isinstance(value, str) else "")
    except ipaddress.AddressValueError:
        raise AllowlistError(f"not an IPv4 address: {value!r}") from None
    if subnet and ip not in ipaddress.IPv4Network(subnet):
        raise AllowlistError(f"{ip} is not on the hotspot ({subnet})")
    return str(ip)


def valid_seconds(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SECONDS:
        raise AllowlistError(f"not a duration in seconds (1-{MAX_SECONDS}): {value!r}")
    return value


def quota_name(ip: str) -> str:
    return "q_" + ip.replace(".", "_")


# --- the nft JSON API -----------------------------------------------------------------


def _elem(set_name: str, elems: list) -> dict:
    return {"family": FAMILY, "table": TABLE, "name": set_name, "elem": elems}


def allow_batch(mac: str | None, ip: str, seconds: int,
                quota_bytes: int | None) -> list[dict]:
    """nft JSON commands that accept a phone for ``seconds``, in one transaction.
    An element already present gets the new timeout: add (a no-op if present),
    delete, add again; no need to read the set first."""
    cmds: list[dict] = []
    for set_name, value in (("allowed_mac", mac), ("allowed_ip", None if mac else ip)):
        if value is None:
            continue
        elem = [{"elem": {"val": value, "timeout": seconds}}]
        cmds.append({"add": {"element": _elem(set_name, elem)}})
        cmds.append({"delete": {"element": _elem(set_name, [value])}})
        cmds.append({"add": {"element": _elem(set_name, elem)}})
    if quota_bytes is not None:
        # "add" keeps an existing quota's usage: accepting again does not reset it.
        cmds.append({"add": {"quota": {"family": FAMILY, "table": TABLE,
                                       "name": quota_name(ip), "bytes": quota_bytes,
                                       "used": 0, "inv": True}}})
        cmds.append({"add": {"element": _elem("client_quota", [[ip, quota_name(ip)]])}})
    return cmds


class Nft:
    """``nft`` driven with JSON on stdin; ``prefix`` runs it elsewhere (e.g.
    ``["ip", "netns", "exec", NAME]``)."""

    def __init__(self, binary: str | None = None, prefix: list[str] | None = None) -> None:
        self.binary = binary or shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin") or "nft"
        self.prefix = list(prefix or [])

    def run(self, args: list[str], stdin: str | None = None) -> str:
        try:
            done = subprocess.run([*self.prefix, self.binary, *args], input=stdin,  # noqa: S603
                                  capture_output=True, text=True, timeout=NFT_TIMEOUT,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise AllowlistError(f"nft did not run: {e}") from None
        if done.returncode != 0:
            raise AllowlistError(f"nft {' '.join(args)}: {done.stderr.strip()[:300]}")
        return done.stdout

    def apply(self, commands: list[dict]) -> None:
        if commands:
            self.run(["-j", "-f", "-"], json.dumps({"nftables": commands}))

    def set_elements(self, name: str) -> dict[str, int]:
        """``{value: seconds left}`` of a set of the espace table."""
        out = json.loads(self.run(["-j", "list", "set", FAMILY, TABLE, name]))
        elements: dict[str, int] = {}
        for item in out.get("nftables", []):
            for e in item.get("set", {}).get("elem", []):
                if isinstance(e, dict) and "elem" in e:
                    elements[str(e["elem"]["val"])] = int(e["elem"].get("expires", 0))
                else:
                    elements[str(e)] = 0
        return elements

    def has_table(self) -> bool:
        try:
            self.run(["list", "table", FAMILY, TABLE])
        except AllowlistError:
            return False
        return True


# --- backends --------------------------------------------------------------------------


class Backend(Protocol):
    def allow(self, mac: str | None, ip: str, seconds: int) -> None: ...
    def revoke(self, mac: str | None, ip: str) -> None: ...
    def entries(self) -> dict[str, dict[str, int]]: ...
    def reset_quotas(self) -> None: ...


class NftBackend:
    """Changes the kernel's sets itself (needs CAP_NET_ADMIN)."""

    def __init__(self, subnet: str, quota_bytes: int | None = None, nft: Nft | None = None):
        self.subnet = subnet
        self.quota_bytes = quota_bytes
        self.nft = nft or Nft()

    def allow(self, mac: str | None, ip: str, seconds: int) -> None:
        mac = valid_mac(mac) if mac else None
        ip = valid_ip(ip, self.subnet)
        seconds = valid_seconds(seconds)
        self.nft.apply(allow_batch(mac, ip, seconds, self.quota_bytes))

    def revoke(self, mac: str | None, ip: str) -> None:
        current = self.entries()
        cmds = []
        if mac and valid_mac(mac) in current["mac"]:
            cmds.append({"delete": {"element": _elem("allowed_mac", [mac.lower()])}})
        if valid_ip(ip, self.subnet) in current["ip"]:
            cmds.append({"delete": {"element": _elem("allowed_ip", [ip])}})
        self.nft.apply(cmds)

    def entries(self) -> dict[str, dict[str, int]]:
        return {"mac": self.nft.set_elements("allowed_mac"),
                "ip": self.nft.set_elements("allowed_ip")}

    def reset_quotas(self) -> None:
        if self.quota_bytes is not None:
            self.nft.run(["reset", "quotas", "table", FAMILY, TABLE])


class MemoryBackend:
    """For development and unit tests: the same rules, no kernel."""

    def __init__(self, subnet: str | None = None, clock: Callable[[], float] = time.monotonic):
        self.subnet = subnet
        self.clock = clock
        self.sets: dict[str, dict[str, float]] = {"mac": {}, "ip": {}}
        self.calls: list[tuple] = []

    def allow(self, mac: str | None, ip: str, seconds: int) -> None:
        mac = valid_mac(mac) if mac else None
        ip = valid_ip(ip, self.subnet)
        until = self.clock() + valid_seconds(seconds)
        if mac:
            self.sets["mac"][mac] = until
        else:
            self.sets["ip"][ip] = until
        self.calls.append(("allow", mac, ip, seconds))

    def revoke(self, mac: str | None, ip: str) -> None:
        self.sets["mac"].pop((mac or "").lower(), None)
        self.sets["ip"].pop(ip, None)
        self.calls.append(("revoke", mac, ip))

    def entries(self) -> dict[str, dict[str, int]]:
        now = self.clock()
        return {kind: {v: int(t - now) for v, t in s.items() if t > now}
                for kind, s in self.sets.items()}

    def reset_quotas(self) -> None:
        self.calls.append(("reset_quotas",))


class SocketBackend:
    """Asks the root helper through its Unix socket: one JSON line each way."""

    def __init__(self, path: str = SOCKET_PATH, timeout: float = 15.0) -> None:
        self.path = path
        self.timeout = timeout

    def _ask(self, request: dict) -> dict:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.path)
                s.sendall(json.dumps(request).encode() + b"\n")
                s.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
        except OSError as e:
            raise AllowlistError(f"allow-list helper at {self.path}: {e}") from None
        try:
            reply = json.loads(data or b"{}")
        except ValueError:
            raise AllowlistError("allow-list helper sent a bad reply") from None
        if not reply.get("ok"):
            raise AllowlistError(reply.get("error", "allow-list helper failed"))
        return reply

    def allow(self, mac: str | None, ip: str, seconds: int) -> None:
        self._ask({"op": "allow", "mac": mac, "ip": ip, "seconds": seconds})

    def revoke(self, mac: str | None, ip: str) -> None:
        self._ask({"op": "revoke", "mac": mac, "ip": ip})

    def entries(self) -> dict[str, dict[str, int]]:
        return self._ask({"op": "list"})["entries"]

    def reset_quotas(self) -> None:
        self._ask({"op": "reset-quotas"})


def handle(request_line: bytes, backend: Backend) -> dict:
    """The helper's side: one request, validated field by field, one reply. Never
    raises; an unknown field or operation is refused."""
    try:
        request = json.loads(request_line[:4096] or b"{}")
        if not isinstance(request, dict) or set(request) - {"op", "mac", "ip", "seconds"}:
            raise AllowlistError("bad request")
        op = request.get("op")
        if op == "allow":
            backend.allow(request.get("mac") or None, request.get("ip"),
                          request.get("seconds"))
        elif op == "revoke":
            backend.revoke(request.get("mac") or None, request.get("ip"))
        elif op == "list":
            return {"ok": True, "entries": backend.entries()}
        elif op == "reset-quotas":
            backend.reset_quotas()
        else:
            raise AllowlistError(f"unknown operation {op!r}")
    except (AllowlistError, ValueError) as e:
        return {"ok": False, "error": str(e)}
    return {"ok": True}


def serve_one(stdin: IO[bytes], stdout: IO[bytes], backend: Backend) -> None:
    reply = handle(stdin.readline(4096), backend)
    stdout.write(json.dumps(reply).encode() + b"\n")
    stdout.flush()


def serve_forever(server: socket.socket, backend: Backend,
                  stop: threading.Event | None = None) -> None:
    """The helper as a long-running service: one request per connection, handled in
    turn (each is a few milliseconds of nft), so the web process never waits for a
    helper to start. With systemd's socket activation the listening socket is fd 3."""
    server.settimeout(1.0 if stop is not None else None)
    while stop is None or not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(5)
            try:
                with conn.makefile("rb") as rf, conn.makefile("wb") as wf:
                    serve_one(rf, wf, backend)
            except OSError:
                continue  # the client went away; serve the next one


def listening_socket(path: str | None = None) -> socket.socket:
    """systemd's socket (``LISTEN_FDS``) or a new one bound at ``path``."""
    if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
        return socket.socket(fileno=3)
    if not path:
        raise AllowlistError("no socket from systemd and no --listen path")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    return server


# --- what the web process holds -------------------------------------------------------


class Allowlist:
    """Whether a phone is accepted, and accepting it. Reads are served from a copy
    of the sets refreshed every ``refresh`` seconds (probes are frequent; the sets
    change only through this object, a CLI command or an nft reload)."""

    def __init__(self, backend: Backend, refresh: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.refresh = refresh
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._until: dict[str, float] = {}

    def _reload(self) -> None:
        now = self.clock()
        try:
            entries = self.backend.entries()
        except AllowlistError:
            entries = {"mac": {}, "ip": {}}  # keep serving: the portal shows again
        self._until = {v: now + left for kind in ("mac", "ip")
                       for v, left in entries.get(kind, {}).items()}
        self._loaded_at = now

    def remaining(self, mac: str | None, ip: str) -> int:
        """Seconds this phone stays accepted (0 if it is not)."""
        with self._lock:
            now = self.clock()
            if self._loaded_at is None or now - self._loaded_at >= self.refresh:
                self._reload()
            until = max(self._until.get((mac or "").lower(), 0), self._until.get(ip, 0))
            return max(0, int(until - now))

    def is_accepted(self, mac: str | None, ip: str) -> bool:
        return self.remaining(mac, ip) > 0

    def accept(self, mac: str | None, ip: str, seconds: int) -> None:
        self.backend.allow(mac, ip, seconds)
        with self._lock:
            self._until[mac.lower() if mac else ip] = self.clock() + seconds

    def revoke(self, mac: str | None, ip: str) -> None:
        self.backend.revoke(mac, ip)
        with self._lock:
            self._until.pop((mac or "").lower(), None)
            self._until.pop(ip, None)


def backend_for(site, spec: str = "auto") -> Backend:
    """The backend named by ``spec``: ``memory``, ``nft``, ``socket[:PATH]`` or
    ``auto`` (the helper's socket if present, else nft when this process is root and
    the espace table is loaded, else memory, e.g. ``espace demo`` on a laptop)."""
    subnet = site.hotspot.subnet
    quota = (site.uplink.client_daily_mb * 1024 * 1024) if site.uplink.interface else None
    if spec == "memory":
        return MemoryBackend(subnet)
    if spec == "nft":
        return NftBackend(subnet, quota)
    if spec.startswith("socket"):
        return SocketBackend(spec.partition(":")[2] or SOCKET_PATH)
    if os.path.exists(SOCKET_PATH):
        return SocketBackend(SOCKET_PATH)
    if os.geteuid() == 0 and shutil.which("nft", path="/usr/sbin:/sbin") and Nft().has_table():
        return NftBackend(subnet, quota)
    return MemoryBackend(subnet)
