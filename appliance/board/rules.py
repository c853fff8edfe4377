"""The board's rules, as plain functions over the models.

Guarantees:

- Every created post, support, answer (recorded here) and moderation decision is
  appended to the outbox in the same transaction as its row: both or neither.
- Input is checked completely before anything is written; a rejected post leaves no
  row, no outbox event and no file.
- A voice note is written to a staging file (fsynced) *before* the transaction and
  moved into the blob store *after* it commits. A power cut in between leaves a
  staging file that :func:`recover_incoming` (run at start) either promotes (its post
  committed) or deletes (it did not): an acknowledged post never loses its voice,
  and no blob is left that no post or answer refers to.

Errors a visitor must act on are :class:`BoardError` with a ``code`` the views turn
into a sentence in the visitor's language; the rules themselves know no language.
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from sync_contract import kinds

from .. import audio, blobs, outbox
from ..db import database
from ..errors import EspaceError
from ..models import Commune, Official
from .models import (
    AGE_GROUPS,
    GENDERS,
    KINDS,
    Answer,
    Decision,
    Flag,
    Forward,
    Post,
    Support,
)

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud, written by hand
CODE_LENGTH = 6
ALIAS_MAX = 40
REASON_MAX = 200
FLAGS_TO_HIDE = 3  # visitors' flags that take an unreviewed post off the board
INCOMING = "board-incoming"
PAGE_SIZE = 20


class BoardError(EspaceError):
    """Input the board refuses. ``code`` names the problem, ``field`` the form field."""

    def __init__(self, code: str, field: str = "", message: str = "",
                 **params: Any) -> None:
        super().__init__(message or code.replace("_", " "))
        self.code, self.field, self.params = code, field, params


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- text ---------------------------------------------------------------------------


def clean_text(value: str | None, field: str, max_chars: int, multiline: bool = True) -> str:
    """``value`` normalised (NFC, ``\\n`` line ends, trimmed) or BoardError.

    Refused: invalid UTF-8 (decoded by the web layer as U+FFFD), NUL and other control
    characters, unpaired surrogates, and text longer than ``max_chars`` characters.
    N'Ko, Arabic and every other script are kept as typed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BoardError("invalid_text", field)
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    for ch in text:
        if ch == "\ufffd":
            raise BoardError("invalid_utf8", field)
        if ch == "\n" and multiline or ch == "\t":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co") or ch in "\u2028\u2029":
            raise BoardError("control_char", field)
    text = unicodedata.normalize("NFC", text).strip()
    if not multiline:
        text = " ".join(text.split())
    if len(text) > max_chars:
        raise BoardError("too_long", field, max_chars=max_chars, chars=len(text))
    return text


# --- voice notes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    """A checked voice note, staged on disk (or already in the blob store).

    While staged, ``fd`` holds an exclusive flock on the staging file: another process
    (the worker starting, say) running :func:`recover_incoming` leaves a locked file
    alone; a crashed process's lock dies with it."""

    sha256: str
    size: int
    mime: str
    seconds: float | None
    staged: Path | None  # None: the blob store already had it
    fd: int = -1


def check_voice(data: bytes, site) -> audio.AudioInfo:
    limits = site.board
    if len(data) > limits.max_voice_bytes:
        raise BoardError("voice_too_large", "voice", max_bytes=limits.max_voice_bytes)
    try:
        # Parsing stops as soon as the note holds more than allowed (audio.probe).
        info = audio.probe(data, max_seconds=limits.max_voice_seconds)
    except audio.AudioTooLong:
        raise BoardError("voice_too_long", "voice",
                         max_seconds=limits.max_voice_seconds) from None
    except audio.AudioError as e:
        raise BoardError("voice_not_audio", "voice", str(e)) from e
    return info


def stage_voice(data_dir: str | Path, data: bytes, site) -> Voice:
    """Check ``data`` and write it, fsynced and locked, under ``board-incoming/``
    (unless the blob store already holds the same bytes). Nothing refers to it until
    a row commits; the caller must then :func:`_promote` or :func:`_discard` it."""
    info = check_voice(data, site)
    staged = blobs.stage(data_dir, INCOMING, data)
    return Voice(staged.sha256, staged.size, info.mime, info.seconds, staged.path, staged.fd)


def _staged(voice: Voice) -> blobs.Staged:
    return blobs.Staged(voice.sha256, voice.size, voice.staged, voice.fd)


def _promote(data_dir: str | Path, voice: Voice) -> None:
    """Move a staged note into the blob store (after its row committed)."""
    blobs.promote(data_dir, _staged(voice))


def _discard(voice: Voice | None) -> None:
    blobs.discard(_staged(voice) if voice else None)


def referenced_blobs() -> set[str]:
    """Every voice note a post or an answer refers to."""
    rows = database.execute_sql(
        "SELECT voice_sha256 FROM board_post WHERE voice_sha256 <> '' "
        "UNION SELECT voice_sha256 FROM board_answer WHERE voice_sha256 <> ''")
    return {r[0] for r in rows}


def recover_incoming(data_dir: str | Path) -> tuple[int, int]:
    """After a crash: promote staged notes whose row committed, delete the others.
    Returns (promoted, deleted). Safe to run at any time: a staging file another
    live upload holds locked is left alone."""
    return blobs.recover_incoming(data_dir, INCOMING, referenced_blobs())


def voice_file(data_dir: str | Path, sha: str) -> Path | None:
    """Where a committed voice note is right now (the blob store, or its staging file
    in the instant between commit and move)."""
    final = blobs.path_for(data_dir, sha)
    if final.exists():
        return final
    incoming = Path(data_dir) / INCOMING
    for path in incoming.glob(sha + ".*") if incoming.is_dir() else []:
        if path.suffix != ".part":
            return path
    return None


# --- posting -----------------------------------------------------------------------


def parse_target(target: str) -> tuple[Commune, Official | None]:
    """``c:<commune id>`` (the council) or ``o:<official id>``."""
    kind, _, ident = (target or "").partition(":")
    if kind not in ("c", "o") or not ident.isdigit() or len(ident) > 9:
        raise BoardError("bad_target", "target")
    if kind == "c":
        commune = Commune.get_or_none(Commune.id == int(ident))
        if commune is None:
            raise BoardError("bad_target", "target")
        return commune, None
    official = Official.get_or_none(Official.id == int(ident))
    if official is None:
        raise BoardError("bad_target", "target")
    return official.commune, official


def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not Post.select().where(Post.code == code).exists():
            return code


@dataclass
class Draft:
    """What a visitor filled in, before checks."""

    kind: str = ""
    target: str = ""
    theme: str = ""
    body: str = ""
    alias: str = ""
    age_group: str = ""
    gender: str = ""


def check_draft(draft: Draft, site) -> dict[str, Any]:
    """Every field checked; returns the clean values or raises the first BoardError."""
    if draft.kind not in KINDS:
        raise BoardError("bad_kind", "kind")
    themes = {t["id"] for t in site.board.themes}
    if draft.theme not in themes:
        raise BoardError("bad_theme", "theme")
    commune, official = parse_target(draft.target)
    body = clean_text(draft.body, "body", site.board.max_text_chars)
    alias = clean_text(draft.alias, "alias", ALIAS_MAX, multiline=False)
    if draft.age_group not in ("",) + AGE_GROUPS:
        raise BoardError("bad_choice", "age_group")
    if draft.gender not in ("",) + GENDERS:
        raise BoardError("bad_choice", "gender")
    return {"kind": draft.kind, "theme": draft.theme, "commune": commune,
            "official": official, "body": body, "alias": alias,
            "age_group": draft.age_group, "gender": draft.gender}


def _official_payload(official: Official | None) -> dict[str, Any] | None:
    if official is None:
        return None
    return {"id": official.id, "name": official.name, "role": official.role,
            "gender": official.gender}


def post_payload(post: Post) -> dict[str, Any]:
    return {
        "uuid": post.uuid, "code": post.code, "kind": post.kind,
        "commune": post.commune.name, "official": _official_payload(post.official),
        "theme": post.theme, "body": post.body, "voice_sha256": post.voice_sha256,
        "voice_mime": post.voice_mime, "voice_seconds": post.voice_seconds,
        "voice_bytes": post.voice_bytes, "alias": post.alias, "age_group": post.age_group,
        "gender": post.gender, "status": post.status, "created_at": post.created_at,
        "channel": post.channel,
    }


def _voice_event(voice: Voice) -> None:
    outbox.append(kinds.VOICE_NOTE, {"sha256": voice.sha256, "size": voice.size,
                                     "mime": voice.mime})


def create_post(draft: Draft, voice_data: bytes | None, *, site, data_dir: str | Path,
                author_hash: str = "", channel: str = "web",
                after_create: Callable[[Post], None] | None = None) -> Post:
    """Store a visitor's post (text and/or voice) with its outbox event.

    Published at once when ``board.moderation`` is "after", else pending. Raises
    BoardError (nothing stored) for a bad field, a bad voice note, an empty post or
    a client over ``board.posts_per_hour``. ``channel`` says how it came ("web" or
    "sms"); ``after_create(post)`` runs inside the same transaction (SMS links the
    sender's number to the post there, so both commit or neither does)."""
    values = check_draft(draft, site)
    if not values["body"] and not voice_data:
        raise BoardError("empty", "body")
    if author_hash:
        _check_rate(author_hash, site.board.posts_per_hour)  # cheap early refusal
    voice = stage_voice(data_dir, voice_data, site) if voice_data else None
    try:
        with database.atomic():
            if author_hash:
                _check_rate(author_hash, site.board.posts_per_hour)  # under the write lock
            post = Post.create(
                uuid=str(uuid.uuid4()), code=_new_code(),
                status="published" if site.board.moderation == "after" else "pending",
                voice_sha256=voice.sha256 if voice else "",
                voice_mime=voice.mime if voice else "",
                voice_seconds=voice.seconds if voice else None,
                voice_bytes=voice.size if voice else 0,
                author_hash=author_hash, created_at=now_iso(), channel=channel, **values)
            outbox.append(kinds.POST_CREATED, post_payload(post))
            if after_create is not None:
                after_create(post)
            if voice and voice.staged:
                _voice_event(voice)
    except BaseException:
        _discard(voice)
        raise
    if voice:
        _promote(data_dir, voice)
    return post


def _check_rate(author_hash: str, per_hour: int) -> None:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (Post.select().where((Post.author_hash == author_hash)
                                  & (Post.created_at >= since)).count())
    if recent >= per_hour:
        raise BoardError("rate_limited", "", per_hour=per_hour)


# --- supports and flags -------------------------------------------------------------------


def support(post: Post, client_hash: str) -> bool:
    """One anonymous "me too" per client per published post; True if it is new."""
    if post.status != "published":
        raise BoardError("not_visible")
    with database.atomic():
        try:
            with database.atomic():  # savepoint: a duplicate leaves the transaction usable
                row = Support.create(uuid=str(uuid.uuid4()), post=post,
                                     client_hash=client_hash, created_at=now_iso())
        except peewee.IntegrityError:
            return False
        Post.update(support_count=Post.support_count + 1).where(Post.id == post.id).execute()
        outbox.append(kinds.SUPPORT_CREATED, {"uuid": row.uuid, "post_uuid": post.uuid,
                                               "created_at": row.created_at})
    post.support_count += 1
    return True


def flag(post: Post, client_hash: str, reason: str = "",
         threshold: int = FLAGS_TO_HIDE) -> bool:
    """A visitor reports a post. At ``threshold`` flags a post no facilitator has
    reviewed yet leaves the board and waits in the queue. True if the flag is new."""
    reason = clean_text(reason, "reason", REASON_MAX, multiline=False)
    with database.atomic():
        try:
            with database.atomic():
                Flag.create(post=post, client_hash=client_hash, reason=reason,
                            created_at=now_iso())
        except peewee.IntegrityError:
            return False
        Post.update(flag_count=Post.flag_count + 1).where(Post.id == post.id).execute()
        post = Post.get_by_id(post.id)
        if post.flag_count >= threshold and post.status == "published" and not post.reviewed:
            Post.update(status="pending").where(Post.id == post.id).execute()
            _decide(post, "flagged", reason=f"{post.flag_count} flags", facilitator="")
    return True


# --- moderation ------------------------------------------------------------------------


_STATUS_AFTER = {"publish": "published", "hide": "hidden", "merge": "merged",
                 "flagged": "pending"}


def _decide(post: Post, action: str, reason: str = "", into: Post | None = None,
            facilitator: str = "") -> Decision:
    decision = Decision.create(uuid=str(uuid.uuid4()), post=post, action=action,
                               reason=reason, into=into, facilitator=facilitator,
                               created_at=now_iso())
    outbox.append(kinds.POST_MODERATED, {
        "uuid": decision.uuid, "post_uuid": post.uuid, "action": action, "reason": reason,
        "status": _STATUS_AFTER[action],
        "into_post_uuid": into.uuid if into else None, "facilitator": facilitator,
        "created_at": decision.created_at})
    return decision


def publish(post: Post, facilitator: str) -> None:
    if post.status == "merged":
        raise BoardError("merged")
    with database.atomic():
        Post.update(status="published", hidden_reason="", reviewed=True) \
            .where(Post.id == post.id).execute()
        _decide(post, "publish", facilitator=facilitator)
    post.status, post.reviewed = "published", True


def hide(post: Post, reason: str, facilitator: str) -> None:
    reason = clean_text(reason, "reason", REASON_MAX, multiline=False)
    if not reason:
        raise BoardError("reason_required", "reason")
    if post.status == "merged":
        raise BoardError("merged")
    with database.atomic():
        Post.update(status="hidden", hidden_reason=reason, reviewed=True) \
            .where(Post.id == post.id).execute()
        _decide(post, "hide", reason=reason, facilitator=facilitator)
    post.status, post.hidden_reason = "hidden", reason


def merge(duplicate: Post, into: Post, facilitator: str) -> None:
    """``duplicate`` joins ``into``: its supports move over (one per client still),
    it leaves the board, and its page leads to ``into``."""
    if duplicate.id == into.id:
        raise BoardError("merge_self", "into")
    if into.status == "merged" or duplicate.status == "merged":
        raise BoardError("merged", "into")
    with database.atomic():
        database.execute_sql(
            "UPDATE OR IGNORE board_support SET post_id = ? WHERE post_id = ?",
            (into.id, duplicate.id))
        count = Support.select().where(Support.post == into).count()
        Post.update(support_count=count).where(Post.id == into.id).execute()
        Post.update(status="merged", merged_into=into, reviewed=True, support_count=0) \
            .where(Post.id == duplicate.id).execute()
        _decide(duplicate, "merge", into=into, facilitator=facilitator)
    duplicate.status, duplicate.merged_into = "merged", into


# --- answers ----------------------------------------------------------------------------

def answer(post: Post, *, official_id: int | None, body: str, voice_data: bytes | None,
           recorded_by: str, site, data_dir: str | Path, official_name: str = "") -> Answer:
    """An official's answer recorded at the kiosk (typed or by voice), with its event."""
    body = clean_text(body, "body", site.board.max_text_chars)
    official = None
    if official_id is not None:
        official = Official.get_or_none(Official.id == official_id)
        if official is None:
            raise BoardError("bad_target", "official")
        official_name = official.name
    official_name = clean_text(official_name, "official_name", 120, multiline=False)
    if not official_name:
        raise BoardError("official_required", "official")
    if not body and not voice_data:
        raise BoardError("empty", "body")
    if post.status == "merged":
        raise BoardError("merged")
    voice = stage_voice(data_dir, voice_data, site) if voice_data else None
    try:
        with database.atomic():
            row = Answer.create(
                uuid=str(uuid.uuid4()), post=post, official=official,
                official_name=official_name, body=body,
                voice_sha256=voice.sha256 if voice else "",
                voice_mime=voice.mime if voice else "",
                voice_seconds=voice.seconds if voice else None,
                voice_bytes=voice.size if voice else 0,
                source="kiosk", recorded_by=recorded_by, created_at=now_iso())
            Post.update(answer_count=Post.answer_count + 1).where(Post.id == post.id).execute()
            outbox.append(kinds.ANSWER_RECORDED, {
                "uuid": row.uuid, "post_uuid": post.uuid,
                "official": _official_payload(official), "official_name": official_name,
                "body": body, "voice_sha256": row.voice_sha256, "voice_mime": row.voice_mime,
                "voice_seconds": row.voice_seconds, "voice_bytes": row.voice_bytes,
                "created_at": row.created_at})
            if voice and voice.staged:
                _voice_event(voice)
    except BaseException:
        _discard(voice)
        raise
    if voice:
        _promote(data_dir, voice)
    return row


def receive_answer(payload: dict[str, Any]) -> Answer | None:
    """An answer typed on central, pulled by the sync. Idempotent by ``uuid``; no
    outbox event (central already has it). Its voice blob, if any, is fetched by the
    sync into the blob store by hash. None when the post is unknown here."""
    existing = Answer.get_or_none(Answer.uuid == payload["uuid"])
    if existing:
        return existing
    post = Post.get_or_none(Post.uuid == payload["post_uuid"])
    if post is None:
        return None
    for _ in range(10):  # merged meanwhile: the answer belongs to the post it joined
        if post.status != "merged" or post.merged_into_id is None:
            break
        post = post.merged_into
    with database.atomic():
        if Answer.select().where(Answer.uuid == payload["uuid"]).exists():
            return Answer.get(Answer.uuid == payload["uuid"])
        row = Answer.create(
            uuid=payload["uuid"], post=post, official=None,
            official_name=str(payload.get("official_name", ""))[:120],
            body=str(payload.get("body", "")),
            voice_sha256=str(payload.get("voice_sha256", "") or ""),
            voice_mime=str(payload.get("voice_mime", "") or ""),
            voice_seconds=payload.get("voice_seconds"),
            voice_bytes=int(payload.get("voice_bytes", 0) or 0),
            source="central", created_at=str(payload.get("created_at") or now_iso()))
        Post.update(answer_count=Post.answer_count + 1).where(Post.id == post.id).execute()
    return row


# What a voice answer from central may be served as (central records WebM or Ogg and
# checks the bytes; anything else named here would run as a page for visitors).
CENTRAL_VOICE_MIMES = frozenset({"audio/webm", "audio/ogg"})


def receive_forward(payload: dict[str, Any]) -> Forward | None:
    """Central sent one of our posts on to an official or a service (``post.forwarded``):
    kept once by uuid, to show the visitor whom it is for. None when the post is not on
    this box or a field is not text a visitor may be shown (the record stays in the
    inbox)."""
    existing = Forward.get_or_none(Forward.uuid == payload["uuid"])
    if existing:
        return existing
    post = Post.get_or_none(Post.uuid == payload["post_uuid"])
    if post is None or payload.get("to_kind") not in ("official", "service"):
        return None
    try:
        to_name = clean_text(payload["to_name"], "to_name", 120, multiline=False)
        to_role = clean_text(payload.get("to_role") or "", "to_role", 120, multiline=False)
        note = clean_text(payload.get("note") or "", "note", 500)
    except BoardError:
        return None
    if not to_name:
        return None
    return Forward.create(uuid=payload["uuid"], post=post, to_kind=payload["to_kind"],
                          to_name=to_name, to_role=to_role, note=note,
                          created_at=str(payload.get("created_at") or now_iso()))


def forwards_of(posts: Iterable[Post]) -> dict[int, Forward]:
    """The newest forward of each post (the board shows whom it was sent to)."""
    ids = [p.id for p in posts]
    found: dict[int, Forward] = {}
    if ids:
        for row in Forward.select().where(Forward.post.in_(ids)).order_by(Forward.id):
            found[row.post_id] = row
    return found


# --- reading -----------------------------------------------------------------------------


SORTS = ("new", "top")
STATUS_FILTERS = ("", "answered", "waiting")


def board_page(*, theme: str = "", commune_id: int | None = None, state: str = "",
               sort: str = "new", page: int = 1, kinds: Iterable[str] = KINDS,
               page_size: int = PAGE_SIZE) -> tuple[list[Post], bool]:
    """One page of published posts and whether there is a next one. Each filter and
    sort is served by an index on (status, column, id)."""
    query = Post.select(Post, Commune, Official).join(Commune).switch(Post) \
        .join(Official, peewee.JOIN.LEFT_OUTER).where(Post.status == "published")
    if theme:
        query = query.where(Post.theme == theme)
    if commune_id:
        query = query.where(Post.commune == commune_id)
    if state == "answered":
        query = query.where(Post.answer_count > 0)
    elif state == "waiting":
        query = query.where(Post.answer_count == 0)
    kinds = tuple(kinds)
    if len(kinds) == 1:
        query = query.where(Post.kind == kinds[0])
    if sort == "top":
        query = query.order_by(Post.support_count.desc(), Post.id.desc())
    else:
        query = query.order_by(Post.id.desc())
    page = max(1, min(page, 10_000))
    rows = list(query.offset((page - 1) * page_size).limit(page_size + 1))
    return rows[:page_size], len(rows) > page_size


def find(code: str) -> Post | None:
    code = (code or "").strip().upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return Post.get_or_none(Post.code == code)


def queue(limit: int = 50) -> list[Post]:
    """What the facilitator must look at: pending posts (new, or taken off by flags),
    then published posts that visitors flagged and nobody reviewed, oldest first."""
    return list(Post.select().where(
        (Post.status == "pending")
        | ((Post.status == "published") & (Post.flag_count > 0) & (Post.reviewed == False)))  # noqa: E712
        .order_by(Post.id).limit(limit))


def waiting_for_answer(commune_id: int | None = None, limit: int = 50) -> list[Post]:
    query = Post.select().where((Post.status == "published") & (Post.answer_count == 0))
    if commune_id:
        query = query.where(Post.commune == commune_id)
    return list(query.order_by(Post.support_count.desc(), Post.id).limit(limit))


def visible_voice(sha: str) -> str | None:
    """The MIME type of a voice note a visitor may play (of a published post or of an
    answer to one), else None."""
    post = Post.get_or_none((Post.voice_sha256 == sha) & (Post.status == "published"))
    if post:
        return post.voice_mime
    ans = (Answer.select(Answer.voice_mime).join(Post)
           .where((Answer.voice_sha256 == sha) & (Post.status == "published")).first())
    return ans.voice_mime if ans else None


# --- officials ----------------------------------------------------------------------------


def save_official(*, name: str, role: str, commune_id: int | None, gender: str,
                  official_id: int | None = None) -> Official:
    """Add an official (or correct one) from the kiosk, with an ``official.saved`` event
    for central (the share of women officials is one of its indicators). Officials are
    never deleted: posts and answers refer to them."""
    name = clean_text(name, "name", 120, multiline=False)
    role = clean_text(role, "role", 120, multiline=False)
    if not name:
        raise BoardError("name_required", "name")
    if gender not in ("",) + GENDERS:
        raise BoardError("bad_choice", "gender")
    commune = Commune.get_or_none(Commune.id == commune_id) if commune_id else None
    if commune is None:
        raise BoardError("bad_target", "commune")
    with database.atomic():
        if official_id is None:
            official = Official.create(name=name, role=role, commune=commune, gender=gender)
        else:
            official = Official.get_or_none(Official.id == official_id)
            if official is None:
                raise BoardError("bad_target", "official")
            official.name, official.role, official.commune, official.gender = \
                name, role, commune, gender
            official.save()
        outbox.append(kinds.OFFICIAL_SAVED, {"id": official.id, "name": name, "role": role,
                                              "commune": commune.name, "gender": gender,
                                              "created_at": now_iso()})
    return official
