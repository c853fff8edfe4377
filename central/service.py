"""Central's domain functions: sites and enrolment, the sync exchange, blob uploads,
file pieces, answers. Views and the CLI call these; so do the tests.

Central imports :mod:`sync_contract` and nothing else from the box; each kind a box
sends is applied by its handler in :mod:`central.handlers`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import peewee

from sync_contract import kinds, protocol
from sync_contract.atomic import atomic_open, create_once, fsync_dir

from .db import database, is_postgres
from .handlers import Projector
from .models import (
    Admin,
    Answer,
    Audit,
    Box,
    DownEvent,
    FileEntry,
    Post,
    Record,
    Region,
    Site,
    StreamMark,
    utcnow,
)

ENROL_DAYS = 14
READ_CHUNK = 8192


class CentralError(Exception):
    """Something an admin or a box must act on; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class FieldError(CentralError):
    """A form's field to fix: ``field`` names it (the page marks it), the message says
    what is wrong and how to fix it."""

    def __init__(self, message: str, field: str, status: int = 400) -> None:
        super().__init__(message, status)
        self.field = field


def crash_point(name: str) -> None:
    """Die here when CENTRAL_CRASH_AT names this point (SIGKILL tests only)."""
    if os.environ.get("CENTRAL_CRASH_AT") == name:
        master = os.environ.get("CENTRAL_MASTER_PID", "")
        if master.isdigit() and os.getpgid(0) == int(master):
            # The master leads its own process group (the tests start it so): every
            # worker dies at once, as in a power cut, none left serving the port.
            os.killpg(int(master), signal.SIGKILL)
        if master.isdigit() and int(master) != os.getpid():
            os.kill(int(master), signal.SIGKILL)  # the whole server, as a power cut
        os.kill(os.getpid(), signal.SIGKILL)


# --- keys --------------------------------------------------------------------------------


def central_key(data_dir: Path):
    """Central's Ed25519 signing key, created once in the data directory (0600)."""
    raw = create_once(Path(data_dir) / "central.key",
                      protocol.private_bytes(protocol.new_private_key()), 0o600)
    return protocol.load_private(raw)


# --- sites and enrolment --------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def new_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
    raw = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def audit(admin: Admin | None, action: str, detail: str = "") -> None:
    Audit.create(admin=admin, action=action, detail=detail[:2000])


def create_site(slug: str, name: str, region: str, communes: list[str] | None = None,
                admin: Admin | None = None) -> tuple[Site, str]:
    """A site and its one-time enrolment code (shown once; only its hash is kept)."""
    code = new_code()
    with database.atomic():
        reg, _ = Region.get_or_create(name=region)
        if Site.select().where(Site.slug == slug).exists():
            raise CentralError(f"site {slug!r} exists already")
        site = Site.create(slug=slug, name=name, region=reg,
                           communes=",".join(communes or []), enrol_code_hash=_code_hash(code),
                           enrol_expires=utcnow() + dt.timedelta(days=ENROL_DAYS))
        audit(admin, "site.create", slug)
    return site, code


def reissue_code(site: Site, admin: Admin | None = None) -> str:
    """A new one-time code for the site (a replaced SD card); the box enrolled now keeps
    syncing until another box enrols with the new code."""
    code = new_code()
    with database.atomic():
        Site.update(enrol_code_hash=_code_hash(code), public_key="", revoked=False,
                    enrol_expires=utcnow() + dt.timedelta(days=ENROL_DAYS)) \
            .where(Site.id == site.id).execute()
        audit(admin, "site.new_code", site.slug)
    return code


def revoke(site: Site, admin: Admin | None = None) -> None:
    """Refuse the site's box from now on. Its enrolment code dies with it: a revoked
    box comes back only with a new code (issued by an admin)."""
    with database.atomic():
        Box.update(revoked=True).where(Box.site == site.id).execute()
        Site.update(revoked=True, public_key="", enrol_code_hash="") \
            .where(Site.id == site.id).execute()
        audit(admin, "site.revoke", site.slug)


BIG = 2**63 - 1  # BigIntegerField; IntegerField columns stop at 2**31 - 1


def count(value: object, largest: int = 2**31 - 1) -> int | None:
    """A figure a box reports, if it is a whole number the column can hold; None for
    anything else (text, a list, 10**30, a negative), which then changes nothing."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= largest:
        return None
    return value


def enroll(data_dir: Path, body: dict) -> dict:
    """Bind a box's public key to the site whose code it presents. Idempotent for the same
    key and code (a lost response); a used code with another key is refused."""
    code = str(body.get("code", ""))
    box_id = str(body.get("box_id", ""))
    public = str(body.get("public_key", ""))
    try:
        uuid.UUID(box_id)
        protocol.load_public(public)
    except (ValueError, protocol.ProtocolError):
        raise CentralError("bad box id or public key") from None
    h = _code_hash(code)
    with database.atomic():
        site = Site.get_or_none(Site.enrol_code_hash == h)
        if site is None or not code:
            raise CentralError("unknown or already used enrolment code", 403)
        used = Box.get_or_none(Box.code_hash == h)
        if used is not None:
            if used.public_key == public and used.box_id == box_id and not used.revoked:
                pass  # the same box again (a lost response): answer as before
            else:
                raise CentralError("this code was already used by another box", 403)
        elif site.enrol_expires and site.enrol_expires < utcnow():
            raise CentralError("this enrolment code has expired", 403)
        else:
            other = Site.get_or_none((Site.box_id == box_id) & (Site.id != site.id))
            if other is not None:  # a box moved to another site: the old one lets go
                Site.update(box_id=None, public_key="", revoked=True) \
                    .where(Site.id == other.id).execute()
            Box.update(revoked=True).where(Box.site == site.id).execute()
            # A box coming back (after its revocation, or moving site) keeps its row:
            # its sequences go on where they were.
            if Box.update(site=site, public_key=public, code_hash=h, revoked=False,
                          enrolled_at=utcnow()).where(Box.box_id == box_id).execute() == 0:
                Box.create(site=site, box_id=box_id, public_key=public, code_hash=h)
            # The new box's own pull starts at its own cursor; sequences start at 1.
            Site.update(box_id=box_id, public_key=public, enrolled_at=utcnow(),
                        revoked=False, cursor=0, version=str(body.get("ver", ""))[:40]) \
                .where(Site.id == site.id).execute()
            audit(None, "site.enrolled", f"{site.slug} box {box_id}")
    key = central_key(data_dir)
    return {"site_id": site.slug, "central_key": protocol.public_b64(key),
            "region": site.region.name}


def site_for_box(box_id: str) -> Site:
    """The site whose current, unrevoked box is ``box_id``."""
    site = Site.get_or_none(Site.box_id == box_id)
    box = Box.get_or_none(Box.box_id == box_id)
    if site is None or site.revoked or box is None or box.revoked:
        raise CentralError("unknown or revoked box", 403)
    site.public_key = box.public_key
    return site


def current_box(site: Site) -> Box:
    box = Box.get_or_none((Box.box_id == site.box_id) & (Box.site == site.id))
    if box is None or box.revoked:
        raise CentralError("unknown or revoked box", 403)
    return box


def verify(frame: bytes, path: str) -> tuple[Site, protocol.Request]:
    try:
        site = site_for_box(protocol.peek_box(frame))
        req = protocol.decode_request(frame, path, protocol.load_public(site.public_key))
    except protocol.ProtocolError as e:
        raise CentralError(str(e), 403) from None
    return site, req


# --- the exchange ----------------------------------------------------------------------


def _lock_site(site: Site) -> None:
    """Serialise one box's requests (a duplicated request runs after the first)."""
    if is_postgres():
        list(Site.select(Site.id).where(Site.id == site.id).for_update())


class Replayed(CentralError):
    """A request number this box used already: a captured request sent again."""


def exchange(site: Site, message: dict, body_bytes: int = 0, *, carried: bool = False) -> dict:
    """Store pushed events once per (box, seq); return acks and what is waiting.

    A request whose number ``n`` the box used before is a replay: refused online
    (:class:`Replayed`, nothing changes); from a USB stick (``carried``: files are
    replays by nature) its records are stored as usual (idempotent) but it says nothing
    about the box being alive (last contact, outbox lag)."""
    push = protocol.validate_push(message.get("push", []))
    acks: dict[str, int] = {}
    rewind: list[str] = []
    n = message.get("n")
    if n is not None and count(n, BIG) is None:
        raise protocol.ProtocolError("n must be a request number")
    with database.atomic():
        _lock_site(site)
        box = current_box(site)
        replay = n is not None and n <= box.last_n
        if replay and not carried:
            raise Replayed(f"replayed request: n must be above {box.last_n}", 409)
        marks = {m.stream: m for m in StreamMark.select().where(StreamMark.box == box)}
        stored = 0
        projector = Projector(site, box)
        for stream, after, events in push:
            mark = marks.get(stream)
            if mark is None:
                mark = StreamMark.create(site=site, box=box, stream=stream, seq=0)
                marks[stream] = mark
            if after > mark.seq:
                rewind.append(stream)  # central lost what the box believes acknowledged
                continue
            fresh = [e for e in events if e[0] > mark.seq]
            if fresh:
                seqs = [e[0] for e in fresh]
                have = {r.seq for r in Record.select(Record.seq).where(
                    (Record.box == box) & (Record.seq.in_(seqs)))}
                rows = []
                for seq, ev_uuid, kind, created_at, payload in fresh:
                    if seq in have:
                        continue
                    rows.append({"site": site.id, "box": box.id, "seq": seq, "uuid": ev_uuid[:64],
                                 "stream": stream, "kind": kind[:64],
                                 "payload": protocol.canonical(payload).decode(),
                                 "created_at": str(created_at)[:40], "received_at": utcnow()})
                    projector.add(seq, ev_uuid, kind, str(created_at), payload)
                for i in range(0, len(rows), 500):
                    Record.insert_many(rows[i:i + 500]).execute()
                stored += len(rows)
                mark.seq = max(mark.seq, seqs[-1])
                StreamMark.update(seq=mark.seq).where(StreamMark.id == mark.id).execute()
        projector.flush()
        # Only the streams this request pushed: the others have not moved.
        acks = {s: marks[s].seq for s, _a, _e in push if s in marks}
        if stored:
            crash_point("central:exchange:uncommitted")
        st = message.get("st") if isinstance(message.get("st"), dict) else {}
        if replay:
            Site.update(records=Site.records + stored).where(Site.id == site.id).execute()
        else:
            if n is not None:
                Box.update(last_n=n).where(Box.id == box.id).execute()
            _update_liveness(site, message, st, stored, body_bytes)
    if stored:
        crash_point("central:exchange:committed")
    return _answer(site, message, acks, rewind)


def _health(st: dict) -> dict:
    """What a box's status says of its health (issue 15): how far its clock is from
    central's (only from boxes that send ``clock``), and the error its syncs stopped on
    since their last success ('' once it has none)."""
    out: dict = {}
    clock = st.get("clock")
    if isinstance(clock, int) and not isinstance(clock, bool) and abs(clock) < 2**40:
        out.update(clock_offset=clock - int(time.time()), clock_at=utcnow())
    if "clock" in st or "err" in st:  # a box that reports its errors: none means none
        err, since = st.get("err", ""), st.get("err_at", "")
        out.update(last_error=err[:200] if isinstance(err, str) else "",
                   last_error_since=since[:40] if isinstance(since, str) else "")
    return out


def note_refusal(box_id: str, reason: str) -> None:
    """Keep, on the box's site, why central refused one of its requests (revoked box,
    bad signature, replayed request): the admins' list says it beside the last contact.
    At most one write a minute for the same reason: refused requests cost no disk."""
    with database.atomic():
        box = Box.get_or_none(Box.box_id == box_id[:64])
        if box is None:
            return
        now = utcnow()
        Site.update(refusal=reason[:300], refusal_at=now).where(
            (Site.id == box.site_id) & ((Site.refusal != reason[:300])
                                        | Site.refusal_at.is_null()
                                        | (Site.refusal_at < now - dt.timedelta(minutes=1)))
        ).execute()


def _update_liveness(site: Site, message: dict, st: dict, stored: int,
                     body_bytes: int) -> None:
    pending, last_seq = count(st.get("pending")), count(st.get("last_seq"), BIG)
    disk, content = count(st.get("disk")), count(st.get("content"))
    health = _health(st)
    Site.update(last_contact=utcnow(), records=Site.records + stored,
                cursor=max(site.cursor, count(message.get("cursor"), BIG) or 0),
                bytes_in=Site.bytes_in + body_bytes,
                pending=max(0, pending - stored) if pending is not None else Site.pending,
                last_seq=last_seq or Site.last_seq,
                version=str(st.get("ver", ""))[:40] or Site.version,
                disk_free_mb=disk if disk is not None else Site.disk_free_mb,
                content_mb=content if content is not None else Site.content_mb,
                **health) \
        .where(Site.id == site.id).execute()


def _answer(site: Site, message: dict, acks: dict, rewind: list) -> dict:
    down, more = pull(site, count(message.get("cursor"), BIG) or 0,
                      count(message.get("want")) or 0)
    # Central's time, signed: a box whose clock is wrong uses it for budgets and dates.
    out: dict = {"now": int(time.time())}
    if acks:
        out["acks"] = acks
    if down:
        out["down"] = down
    if more:
        out["more"] = True
        if more is not True:
            out["need"] = more
    if rewind:
        out["rewind"] = rewind
    return out


def pull(site: Site, cursor: int, want: int) -> tuple[list, bool]:
    query = (DownEvent.select().where(
        (DownEvent.id > cursor)
        & ((DownEvent.site == site)
           | (DownEvent.site.is_null() & (DownEvent.region.is_null()
                                          | (DownEvent.region == site.region_id)))))
        .order_by(DownEvent.id))
    down, size = [], 0
    for ev in query.limit(1000):
        n = len(ev.payload) + 40
        if size + n > want:
            # "need": the next event alone is larger than the box asked for; it may
            # ask again with a larger want, or wait for tomorrow's budget.
            return down, (True if down else n)
        down.append([ev.id, ev.kind, json.loads(ev.payload)])
        size += n
    return down, query.offset(len(down)).limit(1).exists() if len(down) == 1000 else False


# --- blobs --------------------------------------------------------------------------------


def blob_path(data_dir: Path, sha: str) -> Path:
    if not protocol_hex(sha):
        raise CentralError("not a SHA-256")
    return Path(data_dir) / "blobs" / sha[:2] / sha


def reuse_blob(path: Path) -> bool:
    """True when the blob at ``path`` is held already: its time is renewed, so a sweep
    running now (central/blob_sweep.py) leaves it for the row about to name it."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


def protocol_hex(sha: str) -> bool:
    return len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)


BLOB_LEASE_SECONDS = 60.0  # a holder silent this long is stale (a link that died)


class BlobLease:
    """Who may append to a blob's partial file, on a directory several central
    machines may share (NFS): ``<sha>.lock`` made with O_EXCL (atomic there too), its
    mtime the holder's heartbeat, its content the holder's host and process. A newcomer
    takes over a lease silent for :data:`BLOB_LEASE_SECONDS` (the holder's link died
    without a FIN), or at once when the holder was a process of this machine that is
    gone (central killed); the old holder sees its lock gone before its next write and
    stops. No flock: it does not hold across machines."""

    def __init__(self, path: Path, lease: float) -> None:
        self.path, self.lease, self.ino = path, lease, 0

    def acquire(self) -> bool:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                try:
                    age = time.time() - self.path.stat().st_mtime
                    holder = self.path.read_text().split()
                except FileNotFoundError:
                    continue
                if age < self.lease and not _dead_here(holder):
                    return False
                with contextlib.suppress(FileNotFoundError):  # stale: drop the holder
                    os.rename(self.path, self.path.with_name(
                        f"{self.path.name}.{secrets.token_hex(4)}.stale"))
                continue
            self.ino = os.fstat(fd).st_ino
            os.write(fd, f"{socket.gethostname()} {os.getpid()}".encode())
            os.close(fd)
            return True
        return False

    def held(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.ino
        except FileNotFoundError:
            return False

    def beat(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.path)

    def release(self) -> None:
        if self.held():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        for stale in self.path.parent.glob(self.path.name + ".*.stale"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()


def _dead_here(holder: list[str]) -> bool:
    """True when the lock's holder was a process of this machine that has ended."""
    if len(holder) != 2 or holder[0] != socket.gethostname() or not holder[1].isdigit():
        return False
    try:
        os.kill(int(holder[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A worker killed with its master is a zombie until init reaps the orphan: the
    # signal reaches it, yet it will never write again.
    try:
        stat = Path(f"/proc/{int(holder[1])}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def receive_blob(data_dir: Path, message: dict, read: Callable[[int], bytes],
                 tail_len: int, lease: float | None = None) -> dict:
    """Append a blob's tail as it streams in, verifying each 64 KiB piece against the
    signed hashes; a cut keeps what arrived. Idempotent: a complete blob answers done.
    A tail starting before what central holds (a USB stick carries the whole note)
    is read past what central has; one starting after it writes nothing and answers
    ``have``, where the box resumes. ``busy`` (another connection holds the partial
    file) comes with ``have``; ``bad`` names the offset of a piece that did not match
    its hash (a damaged stick)."""
    sha, size, off = str(message.get("sha", "")), count(message.get("size"), BIG), \
        count(message.get("off"), BIG)
    if size is None or off is None:
        raise CentralError("size and off must be whole numbers")
    hashes = list(message.get("ph", []))
    final = blob_path(data_dir, sha)
    if reuse_blob(final):
        return {"have": size, "done": True}
    partial = Path(data_dir) / "blobs" / "partial"
    partial.mkdir(parents=True, exist_ok=True)
    part = partial / f"{sha}.part"
    holder = BlobLease(partial / f"{sha}.lock", BLOB_LEASE_SECONDS if lease is None else lease)
    if not holder.acquire():
        have = part.stat().st_size if part.exists() else 0
        return {"have": have, "done": False, "busy": True}
    try:
        return _append_blob(part, final, sha, size, off, hashes, read, tail_len, holder)
    finally:
        holder.release()


def _append_blob(part: Path, final: Path, sha: str, size: int, off: int, hashes: list,
                 read: Callable[[int], bytes], tail_len: int, holder: BlobLease) -> dict:
    with open(part, "a+b") as f:
        have = f.seek(0, os.SEEK_END)
        if have > size:
            f.truncate(0)
            have = 0
        if off > have or tail_len <= 0 or off + tail_len <= have:
            return {"have": have, "done": False}
        skip = have - off  # already held: read past it (a stick's whole note)
        while skip > 0:
            got = read(min(READ_CHUNK, skip))
            if not got:
                return {"have": have, "done": False}
            skip -= len(got)
        first = off // protocol.PIECE
        pos, remaining, bad = have, min(off + tail_len, size) - have, None
        while remaining > 0:
            try:
                boundary = (pos // protocol.PIECE + 1) * protocol.PIECE
                chunk = read(min(READ_CHUNK, remaining, boundary - pos))
            except OSError:
                chunk = b""
            if not chunk or not holder.held():
                break  # the link was cut, or a newer connection took over: keep it
            f.write(chunk)
            pos += len(chunk)
            remaining -= len(chunk)
            if pos > protocol.PIECE:
                crash_point("central:blob:partial")
            if pos == size or pos % protocol.PIECE == 0:
                k = (pos - 1) // protocol.PIECE
                start = k * protocol.PIECE
                f.flush()
                with open(part, "rb") as r:
                    r.seek(start)
                    piece = r.read(pos - start)
                i = k - first
                if i < 0 or i >= len(hashes) or protocol.piece_hash(piece) != hashes[i]:
                    f.truncate(start)
                    pos, bad = start, start
                    break
                holder.beat()
        f.flush()
        os.fsync(f.fileno())
        if pos < size:
            out = {"have": pos, "done": False}
            if bad is not None:
                out["bad"] = bad
            return out
        digest = hashlib.sha256()
        with open(part, "rb") as r:
            while block := r.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != sha:
            f.truncate(0)
            return {"have": 0, "done": False, "bad": 0}
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, final)
        fsync_dir(final.parent)
        return {"have": size, "done": True}


# --- files (catalogue) --------------------------------------------------------------------


def publish_file(data_dir: Path, source: Path, name: str | None = None,
                 admin: Admin | None = None) -> FileEntry:
    """Add a file (a ZIM) to the catalogue and announce it to every box."""
    digest, pieces, size = hashlib.sha256(), [], 0
    files = Path(data_dir) / "files"
    files.mkdir(parents=True, exist_ok=True)
    staged = files / (source.name + ".importing")
    with open(source, "rb") as src, atomic_open(staged) as out:
        while block := src.read(protocol.PIECE):
            digest.update(block)
            pieces.append(protocol.piece_hash(block))
            out.write(block)
            size += len(block)
    sha = digest.hexdigest()
    os.replace(staged, files / sha)
    fsync_dir(files)
    name = name or source.name
    with database.atomic():
        entry = FileEntry.get_or_none(FileEntry.sha256 == sha)
        if entry is None:
            entry = FileEntry.create(sha256=sha, name=name, size=size,
                                     pieces=json.dumps(pieces))
            DownEvent.create(kind=kinds.CATALOGUE_FILE.name, payload=protocol.canonical(
                {"sha": sha, "name": name, "size": size, "pieces": pieces}).decode())
            audit(admin, "file.publish", f"{name} {sha}")
    return entry


def file_piece(data_dir: Path, message: dict) -> tuple[dict, bytes]:
    sha, off = str(message.get("sha", "")), int(message.get("off", 0))
    length = min(int(message.get("len", 0)), 8 * protocol.PIECE)
    entry = FileEntry.get_or_none(FileEntry.sha256 == sha)
    if entry is None or off % protocol.PIECE or off < 0 or length < 0:
        raise CentralError("unknown file or unaligned offset", 404)
    with open(Path(data_dir) / "files" / sha, "rb") as f:
        f.seek(off)
        tail = f.read(length)
    return {"t": "file", "size": entry.size}, tail


# --- answers -------------------------------------------------------------------------------


def record_answer(post: Post, official_name: str, body: str, admin: Admin | None, *,
                  voice: bytes | None = None, data_dir: Path | None = None) -> Answer:
    """An official's answer typed (and/or recorded by voice) by an admin; it flows down
    on the box's next pull, its voice as a file in verified pieces. The voice is in the
    blob store, durable, before the row and the down event name it; a refused voice
    (:class:`central.voice.VoiceRefused`) stores nothing."""
    from . import voice as voices
    from .i18n import _l

    official_name, body = official_name.strip()[:120], body.strip()[:20000]
    if not official_name:
        raise FieldError(_l("Official: type the official's name."), "official_name")
    if not body and not voice:
        raise FieldError(_l("Answer: type it, or record it by voice."), "body")
    sha = mime = ""
    size, pieces = 0, []
    if voice:
        if data_dir is None:
            raise FieldError(_l("Voice answer: central has no blob store to keep it in."),
                             "voice")
        sha, mime = voices.store(data_dir, voice)
        crash_point("central:answer:blob")  # stored, no row yet: a resend finds it
    with database.atomic():
        if sha:
            size, pieces = voices.publish(data_dir, sha, f"answer-{sha[:16]}")
        answer = Answer.create(post=post, uuid=str(uuid.uuid4()), official_name=official_name,
                               body=body, source="central", admin=admin, voice_sha256=sha,
                               voice_mime=mime, voice_bytes=size)
        Post.update(status="answered", answered_at=utcnow()).where(Post.id == post.id) \
            .execute()
        payload: dict = {"uuid": answer.uuid, "post_uuid": post.uuid,
                         "official_name": official_name, "body": body,
                         "created_at": answer.created_at.isoformat() + "Z"}
        if sha:
            payload.update(voice_sha256=sha, voice_mime=mime, voice_bytes=size, pieces=pieces)
        kinds.ANSWER.validate(payload)
        DownEvent.create(site=post.site, kind=kinds.ANSWER.name,
                         payload=protocol.canonical(payload).decode())
        audit(admin, "answer.create", f"post {post.uuid} of {post.site.slug}"
              + (f", by voice ({size} bytes)" if sha else ""))
    crash_point("central:answer:committed")
    return answer


def announce(text: str, admin: Admin | None, region: Region | None = None, *,
             lang: str = "", expires_at: str = "",
             bodies: dict[str, str] | None = None) -> DownEvent:
    """An announcement for every box (of ``region``): the portal's home and the kiosk
    show it until ``expires_at`` (ISO date or time, UTC), ``text`` being in ``lang``
    and ``bodies`` the same message in other languages (a visitor reads their own)."""
    payload: dict[str, object] = {"uuid": str(uuid.uuid4()), "body": text}
    if lang:
        payload["lang"] = lang
    if bodies:
        payload["bodies"] = dict(bodies)
    if expires_at:
        payload["expires_at"] = expires_at
    kinds.ANNOUNCEMENT.validate(payload)
    with database.atomic():
        ev = DownEvent.create(region=region, kind=kinds.ANNOUNCEMENT.name,
                              payload=protocol.canonical(payload).decode())
        audit(admin, "announcement.create", text[:200])
    return ev


# --- admins ------------------------------------------------------------------------------


def create_admin(username: str, password: str, role: str, region: str | None,
                 language: str = "fr") -> Admin:
    from werkzeug.security import generate_password_hash

    from .i18n import LANGUAGES

    if role not in ("regional", "national", "trainer"):
        raise CentralError("role is regional, national or trainer")
    if role in ("regional", "trainer") and not region:
        raise CentralError(f"a {role} admin needs --region")
    if len(password) < 10:
        raise CentralError("passwords have at least 10 characters")
    if language not in LANGUAGES:
        raise CentralError(f"language is one of {', '.join(LANGUAGES)}")
    with database.atomic():
        reg = Region.get_or_create(name=region)[0] if region else None
        try:
            admin = Admin.create(username=username, role=role, region=reg,
                                 language=language,
                                 password_hash=generate_password_hash(password))
        except peewee.IntegrityError:
            raise CentralError(f"admin {username!r} exists already") from None
        audit(None, "admin.create", f"{username} ({role})")
    return admin


def set_language(admin: Admin, language: str) -> None:
    """The language central's pages speak to ``admin`` from their next page on."""
    from .i18n import LANGUAGES

    if language not in LANGUAGES:
        raise CentralError(f"language is one of {', '.join(LANGUAGES)}")
    Admin.update(language=language).where(Admin.id == admin.id).execute()
    admin.language = language


def check_password(admin: Admin, password: str) -> bool:
    from werkzeug.security import check_password_hash

    return check_password_hash(admin.password_hash, password)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
