"""Every kind of record the sync carries, declared once.

A declaration says what a kind is for both sides: its direction (``up``: a box tells
central; ``down``: central tells boxes), its stream, its payload fields with their types
and which are required, the fields that name a blob (a voice note's SHA-256, uploaded
before the event is acknowledged), its semantics, and who may send it.

Semantics:

* :data:`EVENT`: a fact applied once (a post, a booking). Central stores it once per
  (box, sequence) whatever the link did, so applying it once is all it takes.
* :class:`Snapshot`: the latest value of something the payload names by ``key`` (a
  session's attendance). Central keeps, per key, the snapshot with the highest (box,
  sequence) and derives its figures from it: a replayed or reordered older snapshot
  never overwrites a newer one, and nothing is ever summed twice.
* :data:`DELTA`: an amount to add, sent once by construction (the box deletes what it
  reported in the transaction that reports it: the day's visit rows).

Senders: :data:`BOX` (a box, about its own site's records only; central checks it) and
:data:`CENTRAL` (answers, announcements, the catalogue).

Adding a kind: declare it here with :func:`up` or :func:`down`, then register its
handler on the receiving side (``central/handlers.py`` for up-kinds, the box package
that owns the records for down-kinds). See docs/sync.md, "Adding a synced kind".
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from .streams import STREAMS

UP, DOWN = "up", "down"
BOX, CENTRAL = "box", "central"
EVENT, DELTA = "event", "delta"
HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Snapshot:
    """Latest-value semantics, keyed by the payload fields ``key`` names."""

    key: tuple[str, ...]

    def __str__(self) -> str:
        return f"snapshot of {', '.join(self.key)}"

    def key_of(self, payload: dict) -> str:
        return "\x1f".join(str(payload[k]) for k in self.key)


class ContractError(ValueError):
    """A kind or payload that the contract does not allow; says which kind and field."""


class UnknownKind(ContractError):
    """The kind is not declared (for this direction)."""


class PayloadError(ContractError):
    def __init__(self, kind: str, field_name: str, reason: str) -> None:
        super().__init__(f"{kind}: field {field_name!r} {reason}")
        self.kind, self.field, self.reason = kind, field_name, reason


@dataclass(frozen=True, eq=False)
class Kind:
    name: str
    direction: str
    stream: str
    fields: dict[str, Any]
    required: frozenset[str]
    blobs: tuple[str, ...] = ()
    semantics: str | Snapshot = EVENT
    sender: str = BOX
    doc: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return self.name

    def validate(self, payload: Any, *, strict: bool = True) -> None:
        """Raise :class:`PayloadError` naming the field when ``payload`` does not match.

        ``strict`` (the sender) also refuses fields the declaration does not name: a
        receiver reads leniently, so that a newer box's extra field is no error."""
        if not isinstance(payload, dict):
            raise PayloadError(self.name, "", "payload must be an object")
        for name in sorted(self.required - payload.keys()):
            raise PayloadError(self.name, name, "is required")
        for name, value in payload.items():
            typ = self.fields.get(name)
            if typ is None:
                if strict:
                    raise PayloadError(self.name, name, "is not declared for this kind")
                continue
            if not _is(value, typ):
                raise PayloadError(self.name, name,
                                   f"must be {_type_name(typ)}, not {type(value).__name__}")
            if name in self.blobs and value and not HEX64.fullmatch(value):
                raise PayloadError(self.name, name, "must be a SHA-256 (64 hex digits) or ''")

    def blob_refs(self, payload: dict) -> list[str]:
        """The SHA-256 values of this payload's blob fields (empty ones skipped)."""
        return [payload[f] for f in self.blobs
                if isinstance(payload.get(f), str) and HEX64.fullmatch(payload[f])]


def _allowed(typ: Any) -> tuple[type, ...]:
    if isinstance(typ, types.UnionType) or typing.get_origin(typ) is typing.Union:
        return tuple(type(None) if a is None else a for a in typing.get_args(typ))
    return (type(None),) if typ is None else (typ,)


def _is(value: Any, typ: Any) -> bool:
    allowed = _allowed(typ)
    if isinstance(value, bool):
        return bool in allowed  # JSON true is not a number
    if isinstance(value, int) and float in allowed:
        return True
    return isinstance(value, allowed)


def _type_name(typ: Any) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in _allowed(typ))


UP_KINDS: dict[str, Kind] = {}
DOWN_KINDS: dict[str, Kind] = {}


def _declare(direction: str, name: str, *, stream: str, fields: dict[str, Any],
             optional: tuple[str, ...] = (), blobs: tuple[str, ...] = (),
             semantics: str | Snapshot = EVENT, sender: str, doc: str = "") -> Kind:
    table = UP_KINDS if direction == UP else DOWN_KINDS
    if name in table:
        raise ContractError(f"kind {name!r} ({direction}) is declared twice")
    if stream not in STREAMS:
        raise ContractError(f"kind {name!r}: unknown stream {stream!r}")
    names = set(fields)
    for extra in set(optional) | set(blobs) | set(getattr(semantics, "key", ())):
        if extra not in names:
            raise ContractError(f"kind {name!r}: {extra!r} is not one of its fields")
    kind = Kind(name, direction, stream, dict(fields), frozenset(names - set(optional)),
                tuple(blobs), semantics, sender, doc)
    table[name] = kind
    return kind


def up(name: str, *, stream: str, fields: dict[str, Any], optional: tuple[str, ...] = (),
       blobs: tuple[str, ...] = (), semantics: str | Snapshot = EVENT, doc: str = "") -> Kind:
    """Declare a kind a box sends about its own site's records."""
    return _declare(UP, name, stream=stream, fields=fields, optional=optional, blobs=blobs,
                    semantics=semantics, sender=BOX, doc=doc)


def down(name: str, *, fields: dict[str, Any], optional: tuple[str, ...] = (),
         semantics: str | Snapshot = EVENT, doc: str = "") -> Kind:
    """Declare a kind central sends down to boxes."""
    return _declare(DOWN, name, stream="civic", fields=fields, optional=optional,
                    semantics=semantics, sender=CENTRAL, doc=doc)


def up_kind(name: str) -> Kind:
    try:
        return UP_KINDS[name]
    except KeyError:
        raise UnknownKind(f"{name!r} is not a declared up-kind (sync_contract/kinds.py)") \
            from None


def down_kind(name: str) -> Kind:
    try:
        return DOWN_KINDS[name]
    except KeyError:
        raise UnknownKind(f"{name!r} is not a declared down-kind (sync_contract/kinds.py)") \
            from None


# --- the board ---------------------------------------------------------------------------

_OFFICIAL = dict | None  # {"id", "name", "role", "gender"} of the box's own official list
_VOICE = {"voice_sha256": str, "voice_mime": str, "voice_seconds": float | None,
          "voice_bytes": int}

POST_CREATED = up("post.created", stream="civic", blobs=("voice_sha256",), fields={
    "uuid": str, "code": str, "kind": str, "commune": str, "official": _OFFICIAL,
    "theme": str, "body": str, **_VOICE, "alias": str, "age_group": str, "gender": str,
    "status": str, "created_at": str,
    # "web" or "sms" (issue 16): central counts SMS posts apart; absent from older boxes.
    "channel": str},
    optional=("code", "official", "alias", "voice_mime", "voice_seconds", "voice_bytes",
              "voice_sha256", "status", "channel"),
    doc="a visitor's question or proposal (text and/or voice)")

SUPPORT_CREATED = up("support.created", stream="civic",
                     fields={"uuid": str, "post_uuid": str, "created_at": str},
                     doc='an anonymous "me too" on one of the site\'s posts')

POST_MODERATED = up("post.moderated", stream="civic", fields={
    "uuid": str, "post_uuid": str, "action": str, "reason": str, "status": str,
    "into_post_uuid": str | None, "facilitator": str, "created_at": str},
    optional=("reason", "into_post_uuid", "facilitator"),
    doc="a facilitator published, hid or merged one of the site's posts")

ANSWER_RECORDED = up("answer.created", stream="civic", blobs=("voice_sha256",), fields={
    "uuid": str, "post_uuid": str, "official": _OFFICIAL, "official_name": str,
    "body": str, **_VOICE, "created_at": str},
    optional=("official", "voice_sha256", "voice_mime", "voice_seconds", "voice_bytes"),
    doc="an official's answer recorded at the kiosk, to one of the site's posts")

OFFICIAL_SAVED = up("official.saved", stream="civic", semantics=Snapshot(("id",)), fields={
    "id": int, "name": str, "role": str, "commune": str, "gender": str, "created_at": str},
    doc="an official of the site's communes, as last saved")

VOICE_NOTE = up("blob.voice", stream="blob", blobs=("sha256",),
                fields={"sha256": str, "size": int, "mime": str}, optional=("mime",),
                doc="a voice note's bytes are at central (sent after its upload)")

# --- the programme -----------------------------------------------------------------------

_BOOKING = {"booking": str, "session": str, "status": str, "pool": str | None,
            "attendance": str | None, "gender": str, "age_group": str, "walk_in": bool,
            # only where the site sets sync.share_visitor_names
            "name": str, "phone": str,
            # "web" or "sms" (issue 16): central counts SMS bookings apart
            "channel": str}
_BOOKING_OPTIONAL = ("name", "phone", "channel")
BOOKING_CREATED = up("booking.created", stream="civic", fields=_BOOKING,
                     optional=_BOOKING_OPTIONAL, doc="a seat booked (or a walk-in)")
BOOKING_CANCELLED = up("booking.cancelled", stream="civic", fields=_BOOKING,
                       optional=_BOOKING_OPTIONAL)
BOOKING_PROMOTED = up("booking.promoted", stream="civic", fields=_BOOKING,
                      optional=_BOOKING_OPTIONAL)
BOOKING_ATTENDANCE = up("booking.attendance", stream="civic", fields=_BOOKING,
                        optional=_BOOKING_OPTIONAL)

ATTENDANCE = up("attendance.counts", stream="civic", semantics=Snapshot(("session",)),
                fields={"session": str, "day": str, "booked": int, "present": int,
                        "no_show": int, "walk_in": int, "by_group": dict, "women": int,
                        "youth": int},
                doc="who came to a session (counts by gender and age group, no names); "
                    "day is the session's date (UTC)")

SESSION_SAVED = up("session.saved", stream="civic", semantics=Snapshot(("session",)), fields={
    "session": str, "title": str, "kind": str, "room": str, "starts_at": str,
    "duration_min": int, "capacity": int, "reserved_women": int, "reserved_youth": int,
    "release_min": int, "cancelled": bool, "series": str | None},
    optional=("room", "series"), doc="a session of the programme, as last saved")

# --- usage ---------------------------------------------------------------------------------

VISITS = up("usage.visits", stream="usage", semantics=DELTA,
            fields={"day": str, "visits": int},
            doc="phones that came in on a finished day; the rows are deleted as they are "
                "reported, so each visit is sent once and central adds them")

CONTENT_USAGE = up("usage.content", stream="usage", semantics=DELTA,
                   fields={"hour": str, "books": list},
                   doc="library views and plays of a finished hour, reported once")

# --- the secure origin (HTTPS with a public certificate) ---------------------------------

TLS_CSR = up("tls.csr", stream="civic", semantics=Snapshot(("name",)),
             fields={"name": str, "csr": str},
             doc="the box's certificate signing request for the name central gave it")

# --- spoken labels (appliance/labels) -------------------------------------------------------

_LABEL = {"uuid": str, "key": str, "lang": str, "text": str, "clip_sha256": str,
          "clip_mime": str, "clip_seconds": float | None, "created_at": str}
_LABEL_OPTIONAL = ("text", "clip_sha256", "clip_mime", "clip_seconds")

# In the blob stream: the box sends it only once central holds its clip.
LABEL_RECORDED = up("label.recorded", stream="blob", blobs=("clip_sha256",), fields=_LABEL,
                    optional=_LABEL_OPTIONAL,
                    doc="a label's text corrected and/or its clip recorded at the kiosk, in "
                        "one language (the newest per key and language wins)")
# --- field surveys (OpenRosa on the box) ---------------------------------------------------

SURVEY_SUBMISSION = up("survey.submission", stream="civic", fields={
    "instance_id": str, "form_id": str, "version": str, "xml": str, "attachments": list,
    "enumerator": str, "received_at": str},
    optional=("enumerator",),
    doc="a filled form received from ODK Collect, KoboCollect or a browser; attachments "
        "lists {name, sha256, mime, size}, each sent as survey.attachment")

SURVEY_ATTACHMENT = up("survey.attachment", stream="blob", blobs=("sha256",), fields={
    "instance_id": str, "name": str, "sha256": str, "mime": str, "size": int},
    doc="a submission's photo, audio or file: its bytes are at central")

# --- learning groups (learning/) ----------------------------------------------------------

LEARNING_PROGRESS = up("learning.progress", stream="civic",
                       semantics=Snapshot(("learner", "course")), fields={
    "learner": str, "course": str, "lessons": int, "opened": int, "done": int,
    "state": str, "score_pct": int | None, "gender": str, "age_group": str,
    "updated_at": str},
    optional=("score_pct", "gender", "age_group"),
    doc="one learner's progress in one course, as it now stands (learner is a box-salted "
        "hash: no name, no code); state is started, progressed or completed; lessons is "
        "the course's count, opened and done the learner's")

# Remote coaching (issue 20): a learner's recording or photo for an exercise goes up with
# the learner's box-scoped hash only; the trainer's answer comes down to that box.
LEARNING_WORK = up("learning.work", stream="civic", blobs=("media_sha256",), fields={
    "uuid": str, "learner": str, "course": str, "lesson": str, "exercise": int,
    "type": str, "group": str, "media_sha256": str, "mime": str, "size": int,
    "seconds": float | None, "created_at": str},
    optional=("group", "seconds"),
    doc="a learner's work for an exercise: a recording (type read_aloud) or a photo "
        "(type photo) whose bytes follow as learning.media; learner is the box-salted "
        "hash, group the group's box-scoped id (learning.group)")

LEARNING_MEDIA = up("learning.media", stream="blob", blobs=("sha256",),
                    fields={"sha256": str, "size": int, "mime": str},
                    doc="the bytes of a learner's recording or photo are at central")

LEARNING_GROUP = up("learning.group", stream="civic", semantics=Snapshot(("group",)), fields={
    "group": str, "name": str, "course": str, "members": int, "updated_at": str},
    doc="a learning group as it now stands: its box-scoped id, name, course and member "
        "count (no learner's name or code); central's trainers are assigned to groups")

# --- the commune's directory (maps/, issue 18) --------------------------------------------

_PLACE = {"uuid": str, "name": str, "kind": str, "village": str, "lat": float, "lon": float,
          "contact": str, "activities": str, "languages": list, "led_by_women": bool,
          "led_by_youth": bool, "removed": bool, "updated_at": str}
_PLACE_OPTIONAL = ("village", "contact", "activities", "languages", "removed")

PLACE_SAVED = up("place.saved", stream="civic", semantics=Snapshot(("uuid",)), fields=_PLACE,
                 optional=_PLACE_OPTIONAL,
                 doc="an organisation or public service of the site's directory, as last "
                     "published at the kiosk (a citizen's proposal, moderated; never who "
                     "proposed it)")

# --- what central sends --------------------------------------------------------------------

ANSWER = down("answer.created", fields={
    "uuid": str, "post_uuid": str, "official_name": str, "body": str, "created_at": str,
    **_VOICE, "pieces": list},
    optional=("voice_sha256", "voice_mime", "voice_seconds", "voice_bytes", "pieces"),
    doc="an official's answer typed (and/or recorded by voice) on central's dashboard; a "
        "voice answer's bytes (voice_bytes long, audio/webm or audio/ogg) download in "
        "verified pieces, as a shared label's clip does")

POST_FORWARDED = down("post.forwarded", fields={
    "uuid": str, "post_uuid": str, "to_kind": str, "to_name": str, "to_role": str,
    "note": str, "created_at": str},
    optional=("to_role", "note"),
    doc="central sent one of the site's posts on to an official of the site (to_kind "
        "official) or a service (to_kind service): the board shows the visitor whom it "
        "is for")

ANNOUNCEMENT = down("announcement.created", fields={
    "uuid": str, "body": str, "lang": str, "bodies": dict, "expires_at": str},
    optional=("lang", "bodies", "expires_at"),
    doc="a message for the portal's home and the kiosk, until expires_at (ISO UTC; "
        "default 14 days after it arrives); body is in lang, bodies has it in other "
        "languages by code, and a visitor reads their own when given")

TLS_NAME = down("tls.name", fields={"name": str},
                doc="the DNS name central gives this box (it answers with tls.csr)")

TLS_CERTIFICATE = down("tls.certificate", fields={"name": str, "chain": str, "not_after": str},
                       doc="the certificate central obtained for the box's CSR")

LABEL_SHARED = down("label.shared", fields={
    **_LABEL, "origin": str, "clip_size": int, "pieces": list},
    optional=(*_LABEL_OPTIONAL, "clip_size", "pieces"),
    doc="a label recorded at a box of the region, for every box of the region; its clip "
        "downloads in verified pieces")

LEARNING_FEEDBACK = down("learning.feedback", fields={
    "uuid": str, "work": str, "mark": int, "clip_sha256": str, "clip_mime": str,
    "clip_size": int, "pieces": list, "created_at": str},
    optional=("clip_sha256", "clip_mime", "clip_size", "pieces"),
    doc="a trainer's answer to a learner's work (work is its uuid): a mark (1 encore, "
        "2 bien, 3 très bien) and a voice note downloaded in verified pieces")

CATALOGUE_FILE = down("catalogue.file", fields={
    "sha": str, "name": str, "size": int, "pieces": list},
    doc="a file of the library (a ZIM) to download in verified pieces")

SURVEY_FORM = down("survey.form", fields={
    "form_id": str, "version": str, "title": str, "xml": str, "media": list, "state": str},
    optional=("media", "state"),
    doc="a survey form published at central for the region's boxes: its XForm (converted "
        "and validated at central) and its media as {name, mime, data} with data in "
        "base64 (at most 8 MB in all); state is open or closed")

PLACE_SHARED = down("place.shared", fields={**_PLACE, "origin": str},
                    optional=_PLACE_OPTIONAL,
                    doc="an entry of the region's directory published at another box (origin "
                        "is its site), for every box of the region; the newest updated_at wins")
