"""The sync client: push the outbox, upload voice notes, pull from central, download.

One run (:meth:`SyncClient.run`) opens one persistent connection and loops:

1. an *exchange* pushes outbox events (civic first; usage and content too when no voice
   note waits) and pulls what central has for the box, in one round trip; an idle
   check is exactly one small exchange;
2. voice notes referenced by the outbox are uploaded in resumable, verified pieces;
3. large files from central's catalogue are downloaded in verified pieces.

Every request is sized to what is left of the day's budget before it is sent, so the
budget is overshot by at most a response's headers. Acknowledgements, the pull cursor
and the rows pulled are committed together; a run killed at any point resumes on the
next one without losing or duplicating anything.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sync_contract import kinds, protocol

from .. import blobs, outbox
from ..db import database
from ..errors import EspaceError
from ..models import OutboxEvent
from . import handlers, state
from .budget import Budget, in_windows, local_day
from .transport import Connection, LinkError

log = logging.getLogger("espace.sync")

MAX_BATCH_RAW = 1024 * 1024  # JSON bytes of events per exchange, before compression
MAX_BATCH_EVENTS = 5000
DOWN_WANT = 256 * 1024
UPLOAD_CHUNK = 4 * protocol.PIECE  # tail bytes per blob request
DOWNLOAD_CHUNK = 4 * protocol.PIECE
MIN_ROOM = 700  # below this, not even an idle exchange fits


class NotEnrolled(EspaceError):
    """The box has no key registered with central."""


class CentralRefused(EspaceError):
    """Central answered with an error (revoked box, bad signature, server fault)."""


@dataclass
class Options:
    url: str
    data_dir: Path
    content_dir: Path
    budget_bytes: int
    windows: list = field(default_factory=lambda: [(0, 24 * 60)])
    timezone: str = "UTC"
    ca_file: str = ""
    version: str = "0"
    uplink_interface: str = ""
    hotspot_address: str = "10.42.0.1"
    timeout: float = 60.0
    max_rounds: int = 10_000
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @classmethod
    def from_site(cls, site, **overrides) -> Options:
        from .. import __version__

        values = dict(url=site.central.url, data_dir=site.data_dir,
                      content_dir=site.content_dir,
                      budget_bytes=site.sync.daily_budget_mb * 1_000_000,
                      windows=list(site.sync.windows), timezone=site.site.timezone,
                      ca_file=site.central.ca_file, version=__version__,
                      uplink_interface=site.uplink.interface,
                      hotspot_address=site.hotspot.address)
        values.update(overrides)
        return cls(**values)


@dataclass
class RunResult:
    result: str = "ok"
    pushed: int = 0
    pulled: int = 0
    blobs: int = 0
    downloaded: int = 0
    round_trips: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    first_rtt: float = 0.0  # the first exchange: the reachability and speed probe

    def summary(self) -> str:
        return (f"{self.result}: pushed {self.pushed}, pulled {self.pulled}, voice notes "
                f"{self.blobs}, {self.round_trips} round trips, "
                f"{self.bytes_up + self.bytes_down} bytes")


def _pending_rows(after: int, limit: int, stream: str) -> list[tuple]:
    """(seq, uuid, kind, created_at, payload JSON text) after ``after``: plain tuples,
    the payload left as the canonical text the outbox stored (never parsed here), so a
    batch costs little more memory than its own bytes."""
    return list(OutboxEvent.select(OutboxEvent.seq, OutboxEvent.uuid, OutboxEvent.kind,
                                   OutboxEvent.created_at, OutboxEvent.payload)
                .where((OutboxEvent.seq > after) & (OutboxEvent.stream == stream))
                .order_by(OutboxEvent.seq).limit(limit).tuples())


def blob_refs(kind: str, payload) -> list[str]:
    """SHA-256 values of the blob fields the kind's declaration names."""
    declared = kinds.UP_KINDS.get(kind)
    if declared is None or not isinstance(payload, dict):
        return []
    return declared.blob_refs(payload)


class SyncClient:
    """Runs syncs for one box. ``close()`` is idempotent; use as a context manager."""

    def __init__(self, options: Options) -> None:
        self.o = options
        self.conn: Connection | None = None
        self._probe: set[str] = set()  # blobs whose upload was cut: ask before sending
        self._busy: set[str] = set()  # blobs central is receiving on another connection
        self.export_mode = False  # USB export: blobs travel on the stick with their events
        self._need = 0  # size of a down-event larger than the last want
        self._failing: tuple[str, str] | None = None  # read once per run (_status)
        self._pieces: tuple[str, list[str]] = ("", [])  # the current download's hashes

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # --- identity -----------------------------------------------------------------------

    def _identity(self):
        enr = state.enrolment()
        key = state.load_key(self.o.data_dir)
        if enr is None or key is None:
            raise NotEnrolled("this box is not enrolled with central",
                              "run `espace enroll URL CODE` with a code from central")
        return key, protocol.load_public(enr["central_key"]), enr

    # --- one run --------------------------------------------------------------------------

    def run(self, force: bool = False) -> RunResult:
        """One sync; ``force`` ignores the time windows (not the budget)."""
        key, central_key, enr = self._identity()
        now = state.trusted_now(self.o.now())
        res = RunResult()
        self._failing = None
        if not force and not in_windows(self.o.windows, now, self.o.timezone):
            res.result = "outside the sync windows"
            return res
        budget = Budget(self.o.budget_bytes, local_day(now, self.o.timezone))
        if budget.room() < MIN_ROOM:
            res.result = "daily budget spent" if budget.limit else "budget is 0"
            return res
        self.key, self.central_key, self.box_id = key, central_key, state.box_id()
        # A small page cache for this connection: the sync reads the outbox once, in
        # order; the web process keeps its own larger cache.
        database.execute_sql("PRAGMA cache_size = -2000")
        self.budget, self.res = budget, res
        lock = self._lock()
        if lock is None:
            res.result = "another sync is running"
            return res
        with database.atomic("IMMEDIATE"):
            run = state.SyncRun.create(started_at=state.now_iso())
        url = self.o.url or enr["url"]
        self.conn = Connection(url, self.o.ca_file, self.o.timeout)
        try:
            self._loop()
        except (LinkError, CentralRefused, protocol.ProtocolError) as e:
            res.result = f"stopped: {e}"
            raise
        finally:
            self.close()
            lock.close()
            with database.atomic("IMMEDIATE"):
                state.SyncRun.update(
                    finished_at=state.now_iso(), result=res.result[:200],
                    bytes=res.bytes_up + res.bytes_down, pushed=res.pushed,
                    pulled=res.pulled, rtt_ms=int(res.first_rtt * 1000)).where(
                        state.SyncRun.id == run.id).execute()
                if res.round_trips and not res.result.startswith("stopped"):
                    # Central answered signed responses: the kiosk trusts this time.
                    from ..models import Meta

                    Meta.set_value("sync:last_success_at", state.now_iso())
        return res

    def _loop(self) -> None:
        """Text first, then voice notes, then the rest, then downloads."""
        for phase in ("text", "voice", "rest", "downloads"):
            if phase == "voice":
                while (blob := self._next_blob()) is not None:
                    if not self._upload(blob):
                        self.res.result = "budget reached"
                        return
                continue
            if phase == "downloads":
                while (step := self._download_step()):
                    pass
                if step is None:
                    self.res.result = "budget reached"
                return
            for _ in range(self.o.max_rounds):
                waiting = phase == "text" and self._next_blob() is not None
                more = self._exchange(("civic", "blob") if waiting else protocol.STREAMS)
                if more is None:
                    self.res.result = "budget reached"
                    return
                if not more:
                    break
            if phase == "text" and self._next_blob() is None:
                # Nothing waited behind the text: the first exchange carried everything.
                return self._loop_downloads()

    def _loop_downloads(self) -> None:
        while (step := self._download_step()):
            pass
        if step is None:
            self.res.result = "budget reached"

    def _lock(self):
        """One sync at a time per box (the worker's job and `espace sync now`); the lock
        dies with the process, so a power cut never leaves it taken."""
        path = Path(self.o.data_dir) / "sync" / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return None
        return f

    def _anything_pending(self) -> bool:
        acks = state.acked()
        return any(outbox.pending_after(acks.get(s, 0), 1, (s,)).count() for s in
                   protocol.STREAMS)

    # --- transport -------------------------------------------------------------------------

    def _post(self, path: str, frame: bytes) -> tuple[dict, bytes]:
        assert self.conn is not None
        sent0, recv0 = self.conn.sent, self.conn.received
        try:
            status, body = self.conn.post(path, frame)
        finally:
            up, down = self.conn.sent - sent0, self.conn.received - recv0
            self.res.bytes_up += up
            self.res.bytes_down += down
            state.add_usage(self.budget.day, up, down)
        self.res.round_trips += 1
        if self.res.round_trips == 1:
            self.res.first_rtt = self.conn.last_rtt
        if status == 409:
            # Central saw this request number already (this box's database was restored
            # from an old copy?): number the next ones above what central saw.
            text = body[:200].decode("utf-8", "replace")
            seen = text.rsplit(" ", 1)[-1]
            if seen.isdigit():
                state.skip_requests_to(int(seen))
            raise CentralRefused(f"central answered 409: {text}",
                                 "the next sync numbers its requests above it")
        if status != 200:
            text = body[:200].decode("utf-8", "replace")
            raise CentralRefused(f"central answered {status}: {text}",
                                 "if the box was revoked, enrol it again")
        try:
            return protocol.decode_response(body, protocol.request_digest_of(frame),
                                            self.central_key)
        except protocol.ProtocolError as e:
            # E.g. a hotel's or an operator's captive portal answering in central's place.
            raise CentralRefused(f"the answer did not come from central: {e}",
                                 "check the uplink (a login page?) and central.url") from None

    # --- exchange ---------------------------------------------------------------------------

    def _status(self) -> dict:
        disk = shutil.disk_usage(self.o.data_dir)
        content = sum(p.stat().st_size for p in Path(self.o.content_dir).glob("*.zim")) \
            if Path(self.o.content_dir).is_dir() else 0
        acks = state.acked()
        out = {"ver": self.o.version, "last_seq": outbox.last_seq(),
               "pending": pending_count(acks),
               "disk": disk.free // 2**20, "content": content // 2**20,
               # The box's own clock, raw (not corrected): central shows a site whose
               # clock is wrong (issue 15).
               "clock": int(self.o.now().timestamp())}
        if self._failing is None:
            from ..health import sync_state

            sync = sync_state()
            self._failing = (sync["last_error"][:200], sync["failing_since"] or "") \
                if sync["failed_runs"] else ("", "")
        if self._failing[0]:
            # Why the runs since the last success failed: central sees it when the link
            # comes back (it never sees a failure to reach it otherwise).
            out["err"], out["err_at"] = self._failing
        return out

    def _collect(self, streams, raw_limit: int, acks: dict | None = None) -> list[list]:
        acks = state.acked() if acks is None else acks
        push, raw_total, count = [], 0, 0
        for stream in streams:
            after = acks.get(stream, 0)
            events = _pending_rows(after, MAX_BATCH_EVENTS - count, stream)
            if stream == "blob" and not self.export_mode:
                events = self._ready_blob_events(events)
            rows = []
            for e in events:
                raw = len(e[4]) + len(e[2]) + 70
                if raw_total + raw > raw_limit and (rows or push):
                    break
                rows.append(e)
                raw_total += raw
            del events
            if rows:
                push.append([stream, after, rows])
                count += len(rows)
            if raw_total >= raw_limit or count >= MAX_BATCH_EVENTS:
                break
        return push

    def build_exchange(self, push: list, want: int) -> bytes:
        """The signed exchange frame. The JSON is assembled from the outbox's canonical
        payload texts (sorted keys, as protocol.canonical writes them) and streamed
        into the compressor."""
        c = protocol.canonical
        # Each exchange is numbered: central refuses a number it saw (a replay).
        parts = [b'{"cursor":', c(state.cursor()), b',"n":', c(state.next_request())]
        if push:
            parts.append(b',"push":[')
            for i, (stream, after, rows) in enumerate(push):
                parts.append((b"," if i else b"") + b"[" + c(stream) + b"," + c(after) + b",[")
                for j, (seq, ev_uuid, kind, created_at, payload) in enumerate(rows):
                    parts.append((b"," if j else b"") + b"[" + c(seq) + b"," + c(ev_uuid)
                                 + b"," + c(kind) + b"," + c(created_at) + b","
                                 + payload.encode() + b"]")
                parts.append(b"]]")
            parts.append(b"]")
        parts += [b',"st":', c(self._status()), b',"v":', c(protocol.VERSION), b',"want":',
                  c(want), b"}"]
        return protocol.encode_request_parts(self.key, self.box_id, protocol.PATH_EXCHANGE,
                                             parts)

    def _exchange(self, streams) -> bool | None:
        """One exchange; True if more is waiting, False if done, None if out of budget."""
        room = self.budget.room()
        if room < MIN_ROOM:
            return None
        want = min(DOWN_WANT, room // 4)
        if self._need:
            # The next down-event is larger than a usual want: ask for it alone if the
            # budget allows, else stop until the budget does.
            if self._need + 4096 > room:
                return None
            want = max(want, self._need)
        push = self._collect(streams, min(MAX_BATCH_RAW, max(0, (room - want) * 4)))
        frame = self.build_exchange(push, want)
        while len(frame) + want > room and push:
            push = _halve(push)
            frame = self.build_exchange(push, want)
        if len(frame) + want > room:
            return None
        msg, _ = self._post(protocol.PATH_EXCHANGE, frame)
        crash_point("box:exchange:answered")
        if isinstance(msg.get("now"), int) and not isinstance(msg.get("now"), bool):
            state.learn_time(msg["now"], self.o.now())
        self._apply(push, msg)
        need = msg.get("need", 0)
        if need and self._need and not msg.get("down"):
            raise CentralRefused("central keeps asking for more room than it uses",
                                 "report this with `espace sync status`")
        self._need = need if isinstance(need, int) and need > 0 else 0
        pushed_streams = {p[0] for p in push}
        acks = state.acked()
        more_push = any(outbox.pending_after(acks.get(s, 0), 1, (s,)).count()
                        for s in streams if s != "blob")
        if "blob" in pushed_streams:
            more_push = more_push or bool(self._ready_blob_events(
                _pending_rows(acks.get("blob", 0), 50, "blob")))
        return bool(msg.get("more")) or (more_push and bool(push))

    def _apply(self, push: list, msg: dict) -> None:
        acks = msg.get("acks", {})
        rewind = set(msg.get("rewind", []))
        down = msg.get("down", [])
        with database.atomic("IMMEDIATE"):
            current = state.acked()
            for stream, seq in acks.items():
                if stream not in protocol.STREAMS or not isinstance(seq, int):
                    continue
                if stream in rewind or seq > current.get(stream, 0):
                    state.set_acked(stream, seq)
            for stream, _after, rows in push:
                for row in rows:
                    if row[0] <= acks.get(stream, 0):
                        self.res.pushed += 1
                        if stream == "civic" and "sha256" in row[4]:
                            for sha in blob_refs(row[2], json.loads(row[4])):
                                if blobs.path_for(self.o.data_dir, sha).exists():
                                    state.SyncBlobTodo.insert(sha256=sha).on_conflict_ignore() \
                                        .execute()
            cursor = state.cursor()
            for item in down:
                down_id, kind, payload = item
                if down_id <= cursor:
                    continue  # applied before: a duplicate response
                inserted = state.SyncInbox.insert(
                    id=down_id, kind=kind, payload=protocol.canonical(payload).decode(),
                    received_at=state.now_iso()).on_conflict_ignore().execute()
                if inserted:
                    applied = handlers.apply(kind, payload, self.o)
                    if applied:
                        state.SyncInbox.update(applied=applied).where(
                            state.SyncInbox.id == down_id).execute()
                cursor = down_id
                self.res.pulled += 1
            state.set_cursor(cursor)
            crash_point("box:apply:uncommitted")

    # --- voice notes ---------------------------------------------------------------------

    def _ready_blob_events(self, events) -> list:
        """Blob-stream events whose blob central already holds (or that name none)."""
        ready = []
        for e in events:
            shas = [s for s in blob_refs(e[2], json.loads(e[4]))
                    if blobs.path_for(self.o.data_dir, s).exists()]
            done = all(
                (row := state.SyncBlobTodo.get_or_none(state.SyncBlobTodo.sha256 == s))
                and row.done for s in shas)
            if not done:
                break
            ready.append(e)
        return ready

    def _next_blob(self) -> str | None:
        acks = state.acked()
        for e in outbox.pending_after(acks.get("blob", 0), 50, ("blob",)):
            for sha in blob_refs(e.kind, json.loads(e.payload)):
                if sha in self._busy or not blobs.path_for(self.o.data_dir, sha).exists():
                    continue
                row = state.SyncBlobTodo.get_or_none(state.SyncBlobTodo.sha256 == sha)
                if row is None:
                    with database.atomic("IMMEDIATE"):
                        state.SyncBlobTodo.insert(sha256=sha).on_conflict_ignore().execute()
                    return sha
                if not row.done:
                    return sha
        row = state.SyncBlobTodo.select().where(
            (state.SyncBlobTodo.done == 0) & state.SyncBlobTodo.sha256.not_in(self._busy)) \
            .order_by(state.SyncBlobTodo.sha256).first()
        return row.sha256 if row else None

    def blob_frame(self, sha: str, data_file, size: int, off: int, length: int) -> bytes:
        first = off // protocol.PIECE
        data_file.seek(first * protocol.PIECE)
        span = data_file.read(off + length - first * protocol.PIECE)
        # Hash every piece the tail touches, each whole (the last may end the file).
        end_piece = min(size, -(-(off + length) // protocol.PIECE) * protocol.PIECE)
        data_file.seek(first * protocol.PIECE)
        whole = data_file.read(end_piece - first * protocol.PIECE)
        ph = protocol.piece_hashes(whole)
        tail = span[off - first * protocol.PIECE:]
        message = {"t": "blob", "sha": sha, "size": size, "off": off, "ph": ph}
        return protocol.encode_request(self.key, self.box_id, protocol.PATH_BLOB, message,
                                       tail)

    def _upload(self, sha: str) -> bool:
        """Upload one voice note; False when the budget stops it."""
        path = blobs.path_for(self.o.data_dir, sha)
        size = path.stat().st_size
        off = 0
        row = state.SyncBlobTodo.get_or_none(state.SyncBlobTodo.sha256 == sha)
        probe = sha in self._probe or bool(row and row.tried)
        if row is not None and not row.tried:
            with database.atomic("IMMEDIATE"):
                state.SyncBlobTodo.update(tried=1).where(
                    state.SyncBlobTodo.sha256 == sha).execute()
        with open(path, "rb") as f:
            while True:
                room = self.budget.room() - 1200
                if room < 1024:
                    return False
                length = 0 if probe else min(UPLOAD_CHUNK, size - off, room)
                frame = self.blob_frame(sha, f, size, off, length)
                try:
                    msg, _ = self._post(protocol.PATH_BLOB, frame)
                except LinkError:
                    self._probe.add(sha)
                    raise
                probe = False
                self._probe.discard(sha)
                crash_point("box:blob:piece")
                if msg.get("busy"):
                    # Another connection (a dead one, until central drops it) holds the
                    # note: leave it for the next run instead of resending at once.
                    self._busy.add(sha)
                    self._probe.add(sha)
                    return True
                if msg.get("done"):
                    with database.atomic("IMMEDIATE"):
                        state.SyncBlobTodo.update(done=1).where(
                            state.SyncBlobTodo.sha256 == sha).execute()
                    self.res.blobs += 1
                    return True
                off = int(msg["have"])

    # --- downloads ------------------------------------------------------------------------

    def _download_step(self) -> bool | None:
        """Fetch some pieces of the first unfinished download: True if it moved, False if
        there is nothing to do, None if the budget stops it."""
        # Without the piece list (330 KB of JSON for a 500 MB ZIM): parsed once per run.
        D = state.SyncDownload
        dl = D.select(D.sha256, D.name, D.size, D.dest, D.have, D.done).where(D.done == 0) \
            .order_by(D.sha256).first()
        if dl is None:
            return False
        room = self.budget.room() - 1200
        length = min(DOWNLOAD_CHUNK, dl.size - dl.have, room // protocol.PIECE * protocol.PIECE)
        if length <= 0 and dl.have < dl.size:
            return None
        part = Path(dl.dest + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        if dl.have < dl.size:
            message = {"t": "file", "sha": dl.sha256, "off": dl.have, "len": length}
            frame = protocol.encode_request(self.key, self.box_id, protocol.PATH_FILE, message)
            msg, tail = self._post(protocol.PATH_FILE, frame)
            if self._pieces[0] != dl.sha256:
                self._pieces = (dl.sha256, json.loads(
                    D.select(D.pieces).where(D.sha256 == dl.sha256).scalar()))
            good = verify_pieces(tail, dl.have, self._pieces[1])
            with open(part, "ab") as out:
                out.truncate(dl.have)
                out.seek(dl.have)
                out.write(memoryview(tail)[:good])
                out.flush()
                os.fsync(out.fileno())
            with database.atomic("IMMEDIATE"):
                state.SyncDownload.update(have=dl.have + good).where(
                    state.SyncDownload.sha256 == dl.sha256).execute()
            if good == 0:
                raise CentralRefused("central sent a piece that does not match its hash",
                                     "the download resumes on the next run")
            self.res.downloaded += good
            if dl.have + good < dl.size:
                return True
        finish_download(dl)
        return True


def crash_point(name: str) -> None:
    """Die here, as a power cut would, when ESPACE_CRASH_AT names this point (the
    SIGKILL tests in tests/appliance/test_sync_crash.py use it; never set in service)."""
    if os.environ.get("ESPACE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def pending_count(acks: dict[str, int] | None = None) -> int:
    """Outbox events central has not acknowledged, all streams."""
    acks = state.acked() if acks is None else acks
    return sum(OutboxEvent.select().where((OutboxEvent.stream == s)
                                          & (OutboxEvent.seq > acks.get(s, 0))).count()
               for s in protocol.STREAMS)


def _halve(push: list) -> list:
    """Drop the last half of the events (lowest priority last)."""
    total = sum(len(p[2]) for p in push)
    keep = total // 2
    out = []
    for stream, after, rows in push:
        if keep <= 0:
            break
        out.append([stream, after, rows[:keep]])
        keep -= len(rows[:keep])
    return out


def verify_pieces(tail: bytes, offset: int, pieces: list[str]) -> int:
    """How many leading bytes of ``tail`` (starting at piece-aligned ``offset``) match
    their piece hashes."""
    good = 0
    index = offset // protocol.PIECE
    view = memoryview(tail)
    for i in range(0, len(tail), protocol.PIECE):
        chunk = view[i:i + protocol.PIECE]
        if index >= len(pieces) or protocol.piece_hash(chunk) != pieces[index]:
            break
        good += len(chunk)
        index += 1
    return good


def finish_download(dl) -> None:
    part = Path(dl.dest + ".part")
    h = hashlib.sha256()
    with open(part, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    if h.hexdigest() != dl.sha256:
        part.unlink(missing_ok=True)
        with database.atomic("IMMEDIATE"):
            state.SyncDownload.update(have=0).where(
                state.SyncDownload.sha256 == dl.sha256).execute()
        raise CentralRefused(f"download of {dl.name} does not match its SHA-256",
                             "it starts again on the next run")
    os.replace(part, dl.dest)
    with database.atomic("IMMEDIATE"):
        state.SyncDownload.update(done=1).where(
            state.SyncDownload.sha256 == dl.sha256).execute()


def apply_down(kind: str, payload: dict, options: Options | None = None) -> str:
    """Apply one pulled record (see :func:`appliance.sync.handlers.apply`)."""
    return handlers.apply(kind, payload, options)
