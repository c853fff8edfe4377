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
is unknown), and in shared-uplink mode the phone's id in ``@phone_mark`` (or
``@ip_mark``) and its named quota in ``@mark_quota`` (:mod:`provisioning.quotas`).
In shared-uplink mode the phones and their quota use are also kept in a state file
on the data partition, so :meth:`NftBackend.restore` puts them back after a reload
of the table or a reboot; in offline mode a reboot forgets them and phones see the
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
from dataclasses import dataclass
from typing import IO, Protocol

from . import quotas

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


# --- the nft JSON API -----------------------------------------------------------------


def _elem(set_name: str, elems: list) -> dict:
    return {"family": FAMILY, "table": TABLE, "name": set_name, "elem": elems}


def _refresh(set_name: str, value: str, elem: object) -> list[dict]:
    """Add ``elem`` (keyed by ``value``) with a new timeout: add (a no-op if
    present), delete, add again; no need to read the set first."""
    return [{"add": {"element": _elem(set_name, [elem])}},
            {"delete": {"element": _elem(set_name, [value])}},
            {"add": {"element": _elem(set_name, [elem])}}]


def allow_batch(mac: str | None, ip: str, seconds: int,
                phone: dict | None = None) -> list[dict]:
    """nft JSON commands that accept a phone for ``seconds``, in one transaction.
    With ``phone`` (its quota record, see :mod:`provisioning.quotas`), the phone's
    id goes into ``@phone_mark`` (or ``@ip_mark``) and its named quota is made
    (``add`` keeps an existing quota's use: accepting again does not reset it)."""
    cmds: list[dict] = []
    for set_name, value in (("allowed_mac", mac), ("allowed_ip", None if mac else ip)):
        if value is not None:
            cmds += _refresh(set_name, value, {"elem": {"val": value, "timeout": seconds}})
    if phone is not None:
        name = quotas.quota_name(phone["id"])
        cmds.append({"add": {"quota": {"family": FAMILY, "table": TABLE, "name": name,
                                       "bytes": phone["quota"], "used": phone["used"],
                                       "inv": True}}})
        cmds.append({"add": {"element": _elem("mark_quota", [[phone["id"], name]])}})
        map_name, value = ("phone_mark", mac) if mac else ("ip_mark", ip)
        cmds += _refresh(map_name, value,
                         [{"elem": {"val": value, "timeout": seconds}}, phone["id"]])
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

    def quotas(self) -> dict[str, dict[str, int]]:
        """``{name: {"bytes": limit, "used": used}}`` of the espace table's quotas."""
        out = json.loads(self.run(["-j", "list", "quotas", "table", FAMILY, TABLE]))
        return {q["quota"]["name"]: {"bytes": int(q["quota"].get("bytes", 0)),
                                     "used": int(q["quota"].get("used", 0))}
                for q in out.get("nftables", []) if "quota" in q}

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
    def usage(self) -> dict: ...
    def reset_quotas(self) -> None: ...


def empty_usage() -> dict:
    return {"day": quotas.today(), "resets_at": quotas.next_reset(), "phones": {},
            "total": {"used": 0, "quota": 0}}


class NftBackend:
    """Changes the kernel's sets itself (needs CAP_NET_ADMIN). With a quota
    ``policy`` (shared-uplink mode), each accepted phone gets its id and quota, and
    their use is kept in the policy's state file (see :mod:`provisioning.quotas`)."""

    def __init__(self, subnet: str, policy: quotas.Policy | None = None,
                 nft: Nft | None = None, clock: Callable[[], float] = time.time) -> None:
        self.subnet = subnet
        self.policy = policy
        self.nft = nft or Nft()
        self.clock = clock
        self._memory = quotas.State()  # the state when the policy has no file (benchmarks)

    # --- the state file -----------------------------------------------------------------

    @contextlib.contextmanager
    def _state(self):
        """The quota state, locked; written back if the block succeeds and changed it
        (an SD card should not be written every few seconds for nothing)."""
        path = self.policy.state_path if self.policy else None
        with quotas.locked(path):
            state = quotas.load(path) if path else self._memory
            before = state.to_json()
            yield state
            if state.to_json() != before:
                quotas.store(path, state)

    def _start_day(self, state: quotas.State) -> None:
        """A new day (or counters of an unknown day in the kernel): every quota back
        to 0, the total's limit back to its full value, forgotten phones removed."""
        assert self.policy is not None
        state.roll(quotas.today(), self.clock())
        if state.kernel_day == state.day:
            return
        self.nft.run(["reset", "quotas", "table", FAMILY, TABLE])
        state.total_base = 0
        self.nft.apply([self._total_quota(state)])
        gone = [n for n in self.nft.quotas() if n.startswith("q_") and n[2:].isdigit()
                and int(n[2:]) not in {p["id"] for p in state.phones.values()}]
        for name in gone:  # quotas of phones no longer accepted, one by one (best effort)
            with contextlib.suppress(AllowlistError):
                self.nft.apply([{"delete": {"element": _elem("mark_quota", [int(name[2:])])}},
                                {"delete": {"quota": {"family": FAMILY, "table": TABLE,
                                                      "name": name}}}])
        state.kernel_day = state.day

    def _total_quota(self, state: quotas.State) -> dict:
        """The total's limit in the kernel: what is left of the day's cap once the
        use counted before a reload (``total_base``) is taken off."""
        assert self.policy is not None
        cap = self.policy.total_bytes or quotas.NO_CAP
        return {"add": {"quota": {"family": FAMILY, "table": TABLE, "name": quotas.TOTAL,
                                  "bytes": max(0, cap - state.total_base), "used": 0,
                                  "inv": True}}}

    def _merge_kernel(self, state: quotas.State) -> dict[str, dict[str, int]]:
        """Take the kernel's counters into the state (the larger value wins)."""
        kernel = self.nft.quotas()
        for phone in state.phones.values():
            q = kernel.get(quotas.quota_name(phone["id"]))
            if q is not None:
                phone["used"] = max(phone["used"], q["used"])
        if quotas.TOTAL in kernel:
            state.total_used = max(state.total_used,
                                   state.total_base + kernel[quotas.TOTAL]["used"])
        return kernel

    # --- operations -------------------------------------------------------------------

    def allow(self, mac: str | None, ip: str, seconds: int) -> None:
        mac = valid_mac(mac) if mac else None
        ip = valid_ip(ip, self.subnet)
        seconds = valid_seconds(seconds)
        if self.policy is None:
            self.nft.apply(allow_batch(mac, ip, seconds))
            return
        with self._state() as state:
            self._start_day(state)
            key = mac or f"ip:{ip}"
            phone = state.phones.get(key)
            if phone is None:
                limit = self.policy.new_phones_per_day
                fresh = not limit or state.fresh_today < limit
                state.fresh_today += fresh
                phone = {"id": state.next_id, "used": 0, "until": 0.0, "ip": "" if mac else ip,
                         "quota": self.policy.phone_bytes if fresh else 0}
                state.next_id += 1
                state.phones[key] = phone
            phone["until"] = self.clock() + seconds
            self.nft.apply(allow_batch(mac, ip, seconds, phone))

    def revoke(self, mac: str | None, ip: str) -> None:
        current = self.entries()
        cmds = []
        if mac and valid_mac(mac) in current["mac"]:
            cmds.append({"delete": {"element": _elem("allowed_mac", [mac.lower()])}})
            if self.policy:
                cmds.append({"delete": {"element": _elem("phone_mark", [mac.lower()])}})
        if valid_ip(ip, self.subnet) in current["ip"]:
            cmds.append({"delete": {"element": _elem("allowed_ip", [ip])}})
            if self.policy:
                cmds.append({"delete": {"element": _elem("ip_mark", [ip])}})
        self.nft.apply(cmds)

    def entries(self) -> dict[str, dict[str, int]]:
        return {"mac": self.nft.set_elements("allowed_mac"),
                "ip": self.nft.set_elements("allowed_ip")}

    def usage(self) -> dict:
        """Today's use: each phone's (by MAC, or ``ip:ADDRESS``) and all phones'."""
        if self.policy is None:
            return empty_usage()
        now = self.clock()
        with self._state() as state:
            self._start_day(state)
            self._merge_kernel(state)
            return {"day": state.day, "resets_at": quotas.next_reset(self.clock()),
                    "total": {"used": state.total_used, "quota": self.policy.total_bytes},
                    "phones": {key: {"used": p["used"], "quota": p["quota"],
                                     "accepted": p["until"] > now}
                               for key, p in state.phones.items()
                               if p["until"] > now or p["used"]}}

    def save(self) -> None:
        """Keep the kernel's counters in the state file (every minute, and before
        the table is reloaded)."""
        if self.policy is not None:
            with self._state() as state:
                self._start_day(state)
                self._merge_kernel(state)

    def restore(self) -> int:
        """Put every phone still accepted back into the kernel with the use it had
        (after ``nft -f`` reloaded the table, or at boot); how many were restored.
        Phones whose quota is still in the kernel keep the kernel's count."""
        now = self.clock()
        with self._state() as state:
            if self.policy is not None:
                self._start_day(state)
                kernel = self._merge_kernel(state)
                total = kernel.get(quotas.TOTAL, {"used": 0})["used"]
                state.total_base = state.total_used - total
                cmds = [self._total_quota(state)]
            else:
                cmds = []
            restored = 0
            for key, phone in state.phones.items():
                left = int(phone.get("until", 0) - now)
                if left <= 0:
                    continue
                mac, ip = (None, phone["ip"]) if key.startswith("ip:") else (key, "")
                cmds += allow_batch(mac, ip or self.subnet.split("/")[0], left,
                                    phone if self.policy else None)
                restored += 1
            self.nft.apply(cmds)
            return restored

    def reset_quotas(self) -> None:
        if self.policy is not None:
            with self._state() as state:
                state.kernel_day = ""  # forces the reset, even within the same day
                state.day = ""
                self._start_day(state)


class MemoryBackend:
    """For development and unit tests: the same rules, no kernel."""

    def __init__(self, subnet: str | None = None, clock: Callable[[], float] = time.monotonic):
        self.subnet = subnet
        self.clock = clock
        self.sets: dict[str, dict[str, float]] = {"mac": {}, "ip": {}}
        self.calls: list[tuple] = []
        # What usage() answers; tests set a phone's use here.
        self.usage_data: dict = empty_usage()

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

    def usage(self) -> dict:
        return self.usage_data

    def reset_quotas(self) -> None:
        self.calls.append(("reset_quotas",))
        for phone in self.usage_data["phones"].values():
            phone["used"] = 0
        self.usage_data["total"]["used"] = 0


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

    def usage(self) -> dict:
        return self._ask({"op": "usage"})["usage"]

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
        elif op == "usage":
            return {"ok": True, "usage": backend.usage()}
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
                  stop: threading.Event | None = None,
                  tick: Callable[[], None] | None = None, tick_every: float = 60.0) -> None:
    """The helper as a long-running service: one request per connection, handled in
    turn (each is a few milliseconds of nft), so the web process never waits for a
    helper to start. With systemd's socket activation the listening socket is fd 3.
    ``tick`` runs every ``tick_every`` seconds between requests (the quota save)."""
    wait = min(1.0 if stop is not None else tick_every, tick_every) if tick else (
        1.0 if stop is not None else None)
    server.settimeout(wait)
    next_tick = time.monotonic() + tick_every
    while stop is None or not stop.is_set():
        if tick is not None and time.monotonic() >= next_tick:
            next_tick = time.monotonic() + tick_every
            try:
                tick()
            except (AllowlistError, OSError) as e:
                print(f"quota save failed: {e}", flush=True)
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


@dataclass(frozen=True)
class Quota:
    """A phone's uplink quota today, as the portal shows it."""

    used: int
    limit: int
    spent: str  # "" while some is left; else why: "phone", "total" or "new"
    resets_at: int  # Unix time of the next reset (local midnight)

    @property
    def left(self) -> int:
        return 0 if self.spent else max(0, self.limit - self.used)


class Allowlist:
    """Whether a phone is accepted, and accepting it. Reads are served from a copy
    of the sets refreshed every ``refresh`` seconds (probes are frequent; the sets
    change only through this object, a CLI command or an nft reload)."""

    def __init__(self, backend: Backend, refresh: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 usage_refresh: float = 5.0) -> None:
        self.backend = backend
        self.refresh = refresh
        self.usage_refresh = usage_refresh
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._until: dict[str, float] = {}
        self._usage: dict = empty_usage()
        self._usage_at: float | None = None

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

    def usage(self, max_age: float | None = None) -> dict:
        """Today's quota use (:meth:`NftBackend.usage`), at most ``max_age`` seconds
        old (default ``usage_refresh``)."""
        with self._lock:
            now = self.clock()
            age = self.usage_refresh if max_age is None else max_age
            if self._usage_at is None or now - self._usage_at >= age:
                # On failure keep the last answer: the portal must keep serving.
                with contextlib.suppress(AllowlistError):
                    self._usage = self.backend.usage()
                self._usage_at = now
            return self._usage

    def quota(self, mac: str | None, ip: str, max_age: float | None = None) -> Quota | None:
        """This phone's quota today, or None when phones get no quota (offline mode)
        or this phone has none yet."""
        usage = self.usage(max_age)
        phone = usage["phones"].get((mac or "").lower()) or usage["phones"].get(f"ip:{ip}")
        if phone is None:
            return None
        total = usage["total"]
        reason = ""
        if phone["quota"] == 0:
            reason = "new"  # the day's fresh quotas were all given (MAC randomisation)
        elif phone["used"] >= phone["quota"]:
            reason = "phone"
        elif total["quota"] and total["used"] >= total["quota"]:
            reason = "total"
        return Quota(phone["used"], phone["quota"], reason, int(usage["resets_at"]))

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
    policy = quotas.Policy.from_site(site)
    if spec == "memory":
        return MemoryBackend(subnet)
    if spec == "nft":
        return NftBackend(subnet, policy)
    if spec.startswith("socket"):
        return SocketBackend(spec.partition(":")[2] or SOCKET_PATH)
    if os.path.exists(SOCKET_PATH):
        return SocketBackend(SOCKET_PATH)
    if os.geteuid() == 0 and shutil.which("nft", path="/usr/sbin:/sbin") and Nft().has_table():
        return NftBackend(subnet, policy)
    return MemoryBackend(subnet)
