"""Caring for the fleet over SSH (paramiko): status, logs, commands, upgrades, content.

Host keys are pinned in a known_hosts file of the technician's own
(``~/.config/espace/known_hosts``):

- a box never seen before is refused, with its fingerprint, unless the technician
  passes that exact fingerprint (``--accept SHA256:...``), read from the box's
  screen, console or ``identity.txt``; it is then pinned;
- a box whose key changed is always refused (a reflashed card, or someone in the
  middle). ``espace fleet forget HOST`` removes the old pin, deliberately.

:class:`Session` is a context manager whose ``close()`` is safe to call twice;
:func:`run_many` runs one operation on several boxes at once and reports each as it
finishes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import EspaceError

DATA_DIR = "/var/lib/espace"
BOX_PYTHON = "/opt/espace/venv/bin/python3"
RESTART = "systemctl restart espace-web espace-worker"


class FleetError(EspaceError):
    """A box could not be reached or an operation on it failed."""


class UnknownHostKey(FleetError):
    def __init__(self, host: str, fingerprint: str) -> None:
        self.host, self.fingerprint = host, fingerprint
        super().__init__(f"{host}: unknown host key {fingerprint}",
                         fix="compare it with the fingerprint shown by the box (its "
                             "identity.txt or console), then re-run with "
                             f"--accept {fingerprint}")


class ChangedHostKey(FleetError):
    def __init__(self, host: str, fingerprint: str, pinned: str) -> None:
        self.host, self.fingerprint, self.pinned = host, fingerprint, pinned
        super().__init__(f"{host}: HOST KEY CHANGED, refused (now {fingerprint}, pinned "
                         f"{pinned})", fix="if this card was reflashed on purpose, remove "
                         f"the old pin with `espace fleet forget {host}`; otherwise "
                         "someone may be in the middle: do not connect")


def default_known_hosts() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "espace" / "known_hosts"


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 22
    user: str = "root"

    @classmethod
    def parse(cls, text: str, port: int = 22, user: str = "root") -> Target:
        """``[user@]host[:port]``."""
        if "@" in text:
            user, text = text.split("@", 1)
        if text.count(":") == 1:
            text, p = text.split(":")
            port = int(p)
        if not text:
            raise FleetError("empty host name", fix="give a host: espace fleet status 10.42.0.1")
        return cls(text, port, user)

    @property
    def key_name(self) -> str:
        """The known_hosts name: host, or [host]:port when the port is not 22."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        return self.host if self.port == 22 else f"{self.host}:{self.port}"


class PinStore:
    """Pinned host keys (OpenSSH known_hosts format), saved atomically; thread-safe."""

    def __init__(self, path: Path) -> None:
        import paramiko

        self.path = Path(path)
        self.keys = paramiko.HostKeys()
        if self.path.exists():
            self.keys.load(str(self.path))
        self._lock = threading.Lock()

    def lookup(self, name: str):
        entry = self.keys.lookup(name)
        return dict(entry) if entry else {}

    def pin(self, name: str, key) -> None:
        with self._lock:
            self.keys.add(name, key.get_name(), key)
            self._save()

    def forget(self, name: str) -> bool:
        with self._lock:
            if name not in self.keys:
                return False
            del self.keys[name]
            self._save()
            return True

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        self.keys.save(str(tmp))
        os.replace(tmp, self.path)


class _Pinning:
    """paramiko policy for a key with no pin: accept only an expected fingerprint."""

    def __init__(self, store: PinStore, target: Target, accept: set[str]) -> None:
        self.store, self.target, self.accept = store, target, accept

    def missing_host_key(self, client, hostname, key) -> None:
        fp = fingerprint(key)
        pinned = self.store.lookup(self.target.key_name)
        if pinned:  # a key of another type than the pinned one is a changed key too
            raise ChangedHostKey(str(self.target), fp,
                                 ", ".join(fingerprint(k) for k in pinned.values()))
        if fp not in self.accept:
            raise UnknownHostKey(str(self.target), fp)
        self.store.pin(self.target.key_name, key)


class Session:
    """One SSH connection to a box, host key checked against the pins."""

    def __init__(self, target: Target, store: PinStore, *, accept: Iterable[str] = (),
                 key_filename: str | None = None, timeout: float = 10.0) -> None:
        self.target = target
        self.store = store
        self.accept = set(accept)
        self.key_filename = key_filename
        self.timeout = timeout
        self._client = None

    def open(self) -> Session:
        import paramiko

        client = paramiko.SSHClient()
        # Only our pins: never ~/.ssh/known_hosts silently, never auto-add.
        for name, keys in ((self.target.key_name, self.store.lookup(self.target.key_name)),):
            for kind, key in keys.items():
                client.get_host_keys().add(name, kind, key)
        client.set_missing_host_key_policy(_Pinning(self.store, self.target, self.accept))
        try:
            client.connect(self.target.host, port=self.target.port,
                           username=self.target.user, key_filename=self.key_filename,
                           timeout=self.timeout, banner_timeout=self.timeout,
                           auth_timeout=self.timeout, allow_agent=self.key_filename is None,
                           look_for_keys=self.key_filename is None)
        except paramiko.BadHostKeyException as e:
            client.close()
            raise ChangedHostKey(str(self.target), fingerprint(e.key),
                                 fingerprint(e.expected_key)) from None
        except FleetError:
            client.close()
            raise
        except paramiko.AuthenticationException:
            client.close()
            raise FleetError(f"{self.target}: our SSH key was refused",
                             fix="add your public key to fleet.ssh_keys in the site file "
                                 "(boot partition), then reboot the box") from None
        except (OSError, paramiko.SSHException) as e:
            client.close()
            raise FleetError(f"{self.target}: cannot connect: {e}",
                             fix="check the box is on and on this LAN (espace fleet "
                                 "discover)") from None
        self._client = client
        return self

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, command: str, timeout: float = 600.0) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of ``command`` run by the box's shell."""
        assert self._client is not None, "session not open"
        stdin, stdout, stderr = self._client.exec_command(command, timeout=timeout)
        stdin.close()
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return stdout.channel.recv_exit_status(), out, err

    def put(self, local: Path, remote: str, progress: Callable | None = None) -> None:
        assert self._client is not None, "session not open"
        sftp = self._client.open_sftp()
        try:
            tmp = remote + ".part"
            sftp.put(str(local), tmp, callback=progress)
            sftp.posix_rename(tmp, remote)
        finally:
            sftp.close()


# --- operations: each takes an open session and returns a short text -------------------


PORTAL_PROBE = """import urllib.error, urllib.request
try:
    r = urllib.request.urlopen(%r, timeout=5)
    print("portal=answers (HTTP %%d)" %% r.status)
except urllib.error.HTTPError as e:
    print("portal=ERROR (HTTP %%d: visitors see an error page)" %% e.code)
except Exception as e:
    print("portal=DOWN (%%s)" %% getattr(e, "reason", e))
"""


def status(s: Session, data_dir: str = DATA_DIR, portal_url: str = "http://127.0.0.1/") -> str:
    """Identity, version, what a visitor would see (does the portal answer?), whether the
    site file on the card is the one running, the services' states, uptime, space, load."""
    q = shlex.quote(data_dir)
    probe = PORTAL_PROBE % portal_url
    script = (f"cat {q}/identity.txt 2>/dev/null; "
              "echo version=$(/usr/local/bin/espace --version 2>/dev/null | cut -d' ' -f2); "
              f"python3 -c {shlex.quote(probe)} 2>/dev/null || echo portal=unknown; "
              # site-status.txt: the card's site file was refused (its 2nd line says why)
              f"if [ -s {q}/site-status.txt ]; then "
              f"echo \"site_file=NOT USED, last good one runs: $(sed -n 2p {q}/site-status.txt)\"; "
              "else echo site_file=ok; fi; "
              # is-active prints one state and exits non-zero unless active: no `|| echo`
              "for u in espace-web espace-worker hostapd dnsmasq; do "
              "st=$(systemctl is-active $u 2>/dev/null | head -n1); echo \"$u=${st:-unknown}\"; "
              "done; "
              "echo uptime=$(cut -d' ' -f1 /proc/uptime); "
              f"echo data_free=$(df -Pk {q} 2>/dev/null | awk 'NR==2 {{print $4 \"K\"}}'); "
              "echo load=$(cut -d' ' -f1-3 /proc/loadavg)")
    code, out, err = s.run(script, timeout=60)
    if code:
        raise FleetError(f"{s.target}: status failed: {err.strip()[:200]}")
    return out.strip()


def logs(s: Session, unit: str = "espace-web", lines: int = 50) -> str:
    code, out, err = s.run(f"journalctl --no-pager -o short-iso -n {int(lines)} "
                           f"-u {shlex.quote(unit)}", timeout=60)
    if code:
        raise FleetError(f"{s.target}: journalctl failed: {err.strip()[:200]}")
    return out.rstrip()


def execute(s: Session, command: str) -> str:
    code, out, err = s.run(command)
    text = (out + err).rstrip()
    if code:
        raise FleetError(f"{s.target}: exit status {code}: {text[-400:]}")
    return text


def wheel_version(wheel: Path) -> str:
    parts = wheel.name.split("-")
    if len(parts) < 5 or not wheel.name.endswith(".whl") or parts[0] != "espace_connecte":
        raise FleetError(f"{wheel.name} is not an Espace wheel",
                         fix="build one with: pip wheel --no-deps -w dist .")
    return parts[1]


def upgrade(s: Session, wheel: Path, *, data_dir: str = DATA_DIR, python: str = BOX_PYTHON,
            restart: str = RESTART) -> str:
    """Install an Espace wheel on the data partition (the root is read-only) as root:
    the box checks it against the SHA-256 computed here before unpacking it into
    ``releases/<version>`` (root's, out of the services' reach: image_build/release.py),
    switches ``releases/current`` to it atomically, restarts the services and checks the
    version; on any failure it switches back to the previous release."""
    import hashlib

    version = wheel_version(wheel)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    rel = f"{data_dir}/releases"
    q = shlex.quote
    code, _, err = s.run(f"[ $(id -u) = 0 ] && umask 022 && mkdir -p {q(rel)} && "
                         f"install -d -m 0700 -o root -g root {q(rel)}/.incoming")
    if code:
        raise FleetError(f"{s.target}: cannot prepare {rel}: {err.strip()[:200] or 'not root'}",
                         fix="upgrades are installed as root: connect as root (--user root)")
    remote = f"{rel}/.incoming/{wheel.name}"
    s.put(wheel, remote)
    check = (f"PYTHONPATH={q(rel)}/current {q(python)} -c 'import importlib.metadata as m; "
             "print(m.version(\"espace-connecte\"))'")
    script = f"""set -e
umask 022
cd {q(rel)}
{q(python)} -I -m image_build.release install .incoming/{q(wheel.name)} {sha} {q(rel)} >/dev/null
rm -f .incoming/{q(wheel.name)}
prev=$(readlink current 2>/dev/null || true)
ln -sfn {q(version)} current.new && mv -T current.new current
if {restart} && [ "$({check})" = {q(version)} ]; then
    echo "upgraded to {version} (was ${{prev:-factory}})"
else
    if [ -n "$prev" ]; then ln -sfn "$prev" current.new && mv -T current.new current
    else rm -f current; fi
    {restart} || true
    echo "upgrade to {version} failed; back on ${{prev:-factory}}" >&2; exit 1
fi
"""
    code, out, err = s.run(script, timeout=300)
    if code:
        raise FleetError(f"{s.target}: {err.strip()[-300:]}",
                         fix="the box runs its previous version; see espace fleet logs")
    return out.strip()


def push_content(s: Session, files: list[Path], *, data_dir: str = DATA_DIR,
                 espace: str = "/usr/local/bin/espace", progress=None) -> str:
    """Copy ZIM files to the box (resumable temp name, then renamed) and import them
    into the library with ``espace content import``."""
    incoming = f"{data_dir}/incoming"
    s.run(f"mkdir -p {shlex.quote(incoming)}")
    names = []
    for f in files:
        s.put(f, f"{incoming}/{f.name}", progress=progress)
        names.append(f"{incoming}/{f.name}")
    quoted = " ".join(shlex.quote(n) for n in names)
    # As the services' user: files and database rows it writes must stay theirs.
    code, out, err = s.run(
        f"if id espace >/dev/null 2>&1 && [ $(id -u) = 0 ]; then "
        f"chown espace: {quoted}; run='runuser -u espace --'; else run=; fi; "
        f"$run {espace} content import {quoted} && rm -f {quoted}")
    if code:
        raise FleetError(f"{s.target}: import failed: {(err or out).strip()[-300:]}")
    return out.strip() or f"{len(files)} file(s) imported"


# --- several boxes at once -------------------------------------------------------------


@dataclass
class Result:
    target: Target
    ok: bool
    text: str
    error: str = ""
    fix: str = field(default="", repr=False)


def run_many(targets: list[Target], operation: Callable[[Session], str], store: PinStore, *,
             accept: Iterable[str] = (), key_filename: str | None = None, jobs: int = 4,
             on_done: Callable[[int, int, Result], None] | None = None) -> list[Result]:
    """``operation`` on every target, ``jobs`` at a time; ``on_done(i, n, result)`` is
    called as each finishes (the progress). Results come back in the targets' order."""
    accept = set(accept)

    def one(t: Target) -> Result:
        try:
            with Session(t, store, accept=accept, key_filename=key_filename) as s:
                return Result(t, True, operation(s))
        except EspaceError as e:
            return Result(t, False, "", str(e).split(" (fix:")[0], e.fix or "")

    results: dict[Target, Result] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(targets))),
                            thread_name_prefix="fleet") as pool:
        futures = {pool.submit(one, t): t for t in targets}
        for i, fut in enumerate(as_completed(futures), 1):
            r = fut.result()
            results[r.target] = r
            if on_done:
                on_done(i, len(targets), r)
    return [results[t] for t in targets]
