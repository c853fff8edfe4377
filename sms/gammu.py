"""The bridge to Debian's ``gammu-smsd`` (files backend).

gammu-smsd owns the modem. We give it four folders under the data directory and a
``RunOnReceive`` command:

- a received message is written by gammu-smsd into ``inbox/`` and announced to
  ``python -m sms.receive`` (its number and text in the environment, its file names
  as arguments), which stores it and then deletes the files;
- to send, we write a file ``OUTB<date>_<time>_<nn>_<number>_espace<id>.txt`` (UTF-16
  with a BOM, gammu's "unicode" format) into ``outbox/``; gammu-smsd moves it to
  ``sent/`` or, when the modem failed, to ``error/``. The ``espace<id>`` tail ties the
  file to its :class:`~sms.models.Outgoing` row, which is what makes a crash between
  writing the file and recording it harmless.

gammu-smsd logs phone numbers; :class:`Daemon` reads its log on a pipe and masks them
before anything is written (phone numbers never reach a log).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.blobs import fsync_dir

from .errors import SmsError

log = logging.getLogger("espace.sms.gammu")

NUMBER = re.compile(r"\+?[0-9]{3,20}")
_OURS = re.compile(r"OUT[A-Z]\d{8}_\d{6}_\d\d_(\+?\d+)_espace(\d+)\.txt")
_DIGITS = re.compile(r"(?<!\d)(?<!\d{8}_)\+?\d{5,}")


def mask_numbers(line: str) -> str:
    """A log line with every run of five digits or more replaced by '#': phone
    numbers, local or international (the date in Gammu's file names goes too)."""
    return _DIGITS.sub("#", line)


@dataclass(frozen=True)
class Spool:
    """gammu-smsd's folders for one box: ``<data_dir>/sms/gammu``."""

    root: Path

    @classmethod
    def for_site(cls, site) -> Spool:
        return cls(Path(site.data_dir) / "sms" / "gammu")

    @property
    def config(self) -> Path:
        return self.root / "smsdrc"

    def folder(self, name: str) -> Path:
        return self.root / name

    def make(self) -> None:
        for name in ("inbox", "outbox", "sent", "error"):
            self.folder(name).mkdir(parents=True, exist_ok=True, mode=0o750)

    # -- sending ----------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One sender at a time (the worker and a RunOnReceive may flush together)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / "send.lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _ours(self, folder: str) -> dict[int, Path]:
        out = {}
        path = self.folder(folder)
        for p in path.iterdir() if path.is_dir() else []:
            m = _OURS.fullmatch(p.name)
            if m:
                out[int(m.group(2))] = p
        return out

    def find(self, ident: int) -> str:
        """The file name of message ``ident`` if gammu-smsd already has it (waiting or
        sent), else ''."""
        for folder in ("outbox", "sent"):
            for p in self.folder(folder).glob(f"OUT*_espace{ident}.txt"):
                if _OURS.fullmatch(p.name):
                    return p.name
        return ""

    def hand_over(self, ident: int, number: str, text: str, stamp: str) -> str:
        """Write message ``ident`` into gammu-smsd's outbox, atomically: a file that
        does not start with OUT until complete, fsynced, then renamed. ``stamp`` is
        ``YYYYMMDD_HHMMSS`` (the row's creation, so a retry writes the same name)."""
        if not NUMBER.fullmatch(number):
            raise SmsError("not a phone number", "check the queued message")
        for p in self.folder("error").glob(f"OUT*_espace{ident}.txt"):
            p.unlink()  # an earlier failed try: this is its one resend
        name = f"OUTB{stamp}_{ident % 100:02d}_{number}_espace{ident}.txt"
        outbox = self.folder("outbox")
        tmp = outbox / f".espace{ident}.part"
        with open(tmp, "wb") as f:
            f.write("\ufeff".encode("utf-16-be") + text.encode("utf-16-be"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, outbox / name)
        fsync_dir(outbox)
        return name

    def done(self) -> dict[int, str]:
        """Messages gammu-smsd finished with: id -> "sent" or "failed"."""
        out = {i: "failed" for i in self._ours("error")}
        out.update({i: "sent" for i in self._ours("sent")})
        return out

    def forget(self, ident: int) -> None:
        """Delete the finished files of ``ident`` (their names hold the number)."""
        for folder in ("sent", "error"):
            for p in self.folder(folder).glob(f"OUT*_espace{ident}.txt"):
                p.unlink(missing_ok=True)

    def waiting(self) -> int:
        return len(self._ours("outbox"))

    # -- receiving --------------------------------------------------------------------

    def leftover_inbox(self, older_than: float, now: float) -> list[list[Path]]:
        """Inbox files no RunOnReceive took (it failed, or the box was off), grouped
        into messages: parts ``_01``, ``_02``... from one number follow their ``_00``.
        Only files older than ``older_than`` seconds: a RunOnReceive may be reading a
        fresh one right now."""
        inbox = self.folder("inbox")
        files = (
            sorted(p for p in inbox.iterdir() if p.name.startswith("IN")) if inbox.is_dir() else []
        )
        groups: list[list[Path]] = []
        for p in files:
            if now - p.stat().st_mtime <= older_than:
                continue
            fields = p.stem.split("_")
            number, seq = (fields[3], fields[4]) if len(fields) >= 5 else ("", "00")
            if groups and seq != "00" and groups[-1][0].stem.split("_")[3:4] == [number]:
                groups[-1].append(p)
            else:
                groups.append([p])
        return groups


# --- what RunOnReceive is told ---------------------------------------------------------


@dataclass(frozen=True)
class Received:
    key: str  # identifies the message whatever runs first: a hash of its file names
    number: str
    text: str
    klass: int
    is_binary: bool
    parts: int


def from_environ(env: Mapping[str, str], files: list[str]) -> Received:
    """The message gammu-smsd's RunOnReceive describes (``SMS_1_NUMBER``,
    ``SMS_n_TEXT``, ``DECODED_1_TEXT`` for a concatenated message...)."""
    count = int(env.get("SMS_MESSAGES", "0") or 0)
    if count < 1:
        raise SmsError("RunOnReceive without a message", "run by gammu-smsd only")
    number = env.get("SMS_1_NUMBER", "")
    if env.get("DECODED_PARTS", "0") not in ("0", "") and "DECODED_1_TEXT" in env:
        text = env["DECODED_1_TEXT"]
    else:
        text = "".join(env.get(f"SMS_{i}_TEXT", "") for i in range(1, count + 1))
    binary = any(f.endswith(".bin") for f in files) or (
        all(f"SMS_{i}_TEXT" not in env for i in range(1, count + 1)) and "DECODED_1_TEXT" not in env
    )
    klass = int(env.get("SMS_1_CLASS", "-1") or -1)
    text = "" if binary else text
    return Received(_key(files, number, text), number, text, klass, binary, max(count, len(files)))


def from_files(files: list[Path]) -> Received:
    """A message read back from inbox files (no RunOnReceive): the number is in the
    name, the text UTF-16 (InboxFormat = unicode)."""
    name = files[0].name
    parts = name.split("_")
    number = parts[3] if len(parts) >= 5 else ""
    binary = name.endswith(".bin")
    text = (
        ""
        if binary
        else "".join(
            f.read_bytes().decode("utf-16", errors="replace").lstrip("\ufeff").rstrip("\x00")
            for f in files
        )
    )
    return Received(
        _key([f.name for f in files], number, text), number, text, -1, binary, len(files)
    )


def _key(files: list[str], number: str, text: str) -> str:
    # The first part's name (date, time, serial, number, part 00) and the text name
    # the message, whether it arrives through RunOnReceive or the inbox sweep. The name
    # alone is not enough: once RunOnReceive deleted it, a second message stamped the
    # same second gets the same name again.
    first = Path(files[0]).name if files else ""
    return hashlib.sha256(f"{first}\n{number}\n{text}".encode()).hexdigest()


def delete_inbox(spool: Spool, files: list[str]) -> None:
    inbox = spool.folder("inbox").resolve()
    for f in files:
        path = inbox / Path(f).name
        if path.parent == inbox:
            path.unlink(missing_ok=True)


# --- gammu-smsd itself -----------------------------------------------------------------


def render_config(
    site, spool: Spool, site_path: str, python: str = sys.executable, poll_seconds: int = 5
) -> str:
    """gammu-smsd's configuration for this box."""
    s = site.sms
    if s.connection == "dummy":
        phone = f"device = {s.modem}\nconnection = none\nmodel = dummy\n"
    else:
        phone = f"device = {s.modem}\nconnection = {s.connection}\n"
    receive = f"{python} -m sms.receive --site {site_path}"
    return (
        "# Written by `espace sms config` from site.toml; edits are overwritten.\n"
        f"[gammu]\n{phone}\n"
        "[smsd]\n"
        "service = files\n"
        f"inboxpath = {spool.folder('inbox')}/\n"
        f"outboxpath = {spool.folder('outbox')}/\n"
        f"sentsmspath = {spool.folder('sent')}/\n"
        f"errorsmspath = {spool.folder('error')}/\n"
        "inboxformat = unicode\n"
        "outboxformat = unicode\n"
        "transmitformat = auto\n"
        # stderr, read by Daemon, which masks numbers: never a file or syslog.
        "logfile = stderr\n"
        "debuglevel = 0\n"
        f"runonreceive = {receive}\n"
        "phoneid = espace\n"
        f"receivefrequency = {poll_seconds}\n"
        f"statusfrequency = {max(poll_seconds, 10)}\n"
        "loopsleep = 1\n"
        "commtimeout = 2\n"
        "maxretries = 2\n"
        "deliveryreport = no\n"
        "checksecurity = 0\n"
    )


def write_config(site, site_path: str, poll_seconds: int = 5) -> Spool:
    spool = Spool.for_site(site)
    spool.make()
    tmp = spool.config.with_suffix(".tmp")
    tmp.write_text(render_config(site, spool, site_path, poll_seconds=poll_seconds))
    os.replace(tmp, spool.config)
    return spool


class Daemon:
    """gammu-smsd run as our child, its log masked. A context manager; ``close()`` is
    safe to call twice."""

    def __init__(
        self, spool: Spool, program: str = "gammu-smsd", env: Mapping[str, str] | None = None
    ) -> None:
        self.spool, self.program, self.env = spool, program, env
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._stdout = None

    def start(self) -> Daemon:
        path = shutil.which(self.program, path="/usr/bin:/usr/sbin:/bin:/sbin")
        if path is None:
            raise SmsError("gammu-smsd is not installed", "apt-get install gammu-smsd")
        self.proc = subprocess.Popen(  # noqa: S603 - gammu-smsd, our own config
            [path, "-c", str(self.spool.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        self._stdout = self.proc.stdout
        self._reader = threading.Thread(target=self._read, name="gammu-smsd-log", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._stdout is not None
        for raw in self._stdout:
            line = mask_numbers(raw.decode("utf-8", errors="replace").rstrip())
            # Drop gammu's own "Mon 2026/11/30 07:17:03 gammu-smsd[123]: " prefix.
            log.info("%s", line.split("]: ", 1)[-1])

    def kill(self) -> None:
        """SIGKILL, as a power cut or an unplugged modem's crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.close()

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
            self.proc = None
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def monitor(spool: Spool, timeout: float = 10) -> dict[str, str]:
    """What gammu-smsd says about the modem (signal, IMSI, counts), from its shared
    memory through ``gammu-smsd-monitor``; {} when it is not running."""
    path = shutil.which("gammu-smsd-monitor", path="/usr/bin:/usr/sbin:/bin")
    if path is None or not spool.config.exists():
        return {}
    try:
        out = subprocess.run(  # noqa: S603 - gammu-smsd-monitor, our own config
            [path, "-c", str(spool.config), "-n", "1", "-d", "0"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {}
    if out.returncode != 0:
        return {}
    facts = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            facts[key.strip()] = value.strip()
    return facts
