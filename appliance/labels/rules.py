"""Spoken labels: what a facilitator corrects and records at the kiosk, and what the
visitor pages ask of it.

A label is named by a key that means the same thing on every box of the region:
``msg:<msgid>`` (a string of the catalogues: a tile, a button, a heading),
``official:<name>``, ``council:<commune>``, ``theme:<theme id>``, ``session:<title>``
and ``char:<c>`` (a digit
or letter of a code, spoken one by one). Each correction or recording is a new row; for
each (key, language) the newest text and the newest clip win, so rows synced from other
boxes join in any order. A clip is a short Opus recording, checked by content like a
voice note (:mod:`appliance.audio`), stored by its SHA-256 (:mod:`appliance.blobs`)
before its row: an acknowledged label survives a power cut, a cut before the row leaves
at most an unreferenced blob.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

from sync_contract import kinds

from .. import audio, blobs, outbox
from ..db import database
from ..errors import EspaceError
from ..languages import LANGUAGES
from .models import Label

KINDS = ("msg", "official", "council", "theme", "session", "char", "lang")
MAX_KEY = 300
MAX_TEXT = 200
MAX_CLIP_BYTES = 256 * 1024  # 20 s of Opus at 24 kbit/s is 60 KB: room for a slow rate
MAX_CLIP_SECONDS = 20.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class LabelError(EspaceError):
    """A label that cannot be saved; ``code`` names why (translated at the kiosk)."""

    def __init__(self, code: str, message: str, fix: str = "") -> None:
        super().__init__(message, fix)
        self.code = code


@dataclass(frozen=True)
class Clip:
    sha256: str
    mime: str


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def check_key(key: str) -> str:
    kind, sep, rest = (key or "").partition(":")
    if kind not in KINDS or not sep or not rest or len(key) > MAX_KEY or _CONTROL.search(key):
        raise LabelError("bad_key", f"not a label key: {key[:40]!r}",
                         "keys are msg:, official:, theme:, session: or char: and a name")
    return key


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise LabelError("bad_lang", f"unknown language {lang[:10]!r}",
                         "use a code of appliance/languages.py")
    return lang


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", " ".join((text or "").split()))
    if _CONTROL.search(text):
        raise LabelError("bad_text", "the text has invisible control characters",
                         "type it again")
    if len(text) > MAX_TEXT:
        raise LabelError("text_too_long", f"the text is longer than {MAX_TEXT} characters",
                         "shorten it")
    return text


def check_clip(data: bytes) -> audio.AudioInfo:
    """A short Opus recording (WebM or Ogg, as browsers record), or LabelError."""
    if len(data) > MAX_CLIP_BYTES:
        raise LabelError("clip_too_large", "the recording is too large", "record a shorter one")
    try:
        # Bounded by the clip's length: a crafted file is refused after a few pieces.
        info = audio.probe(data, max_seconds=MAX_CLIP_SECONDS)
    except audio.AudioTooLong:
        raise LabelError("clip_too_long", f"more than {MAX_CLIP_SECONDS:.0f} s",
                         "say only the label") from None
    except audio.AudioError as e:
        raise LabelError("not_audio", f"not a recording we can play: {e}",
                         "record again") from None
    if info.container not in ("webm", "ogg") or info.codec not in ("opus", ""):
        raise LabelError("not_opus", f"a {info.container} {info.codec} file, not Opus",
                         "record it at the kiosk")
    if info.seconds is not None and info.seconds > MAX_CLIP_SECONDS:
        raise LabelError("clip_too_long", f"{info.seconds:.0f} s, more than "
                         f"{MAX_CLIP_SECONDS:.0f} s", "say only the label")
    return info


def record(key: str, lang: str, *, text: str = "", clip: bytes | None = None,
           data_dir: str | Path, origin: str = "", uuid: str | None = None,
           created_at: str | None = None) -> Label:
    """Save a correction and/or a clip for (key, lang); returns the new row. Idempotent
    by ``uuid`` (a row synced twice is stored once)."""
    key, lang, text = check_key(key), check_lang(lang), clean_text(text)
    if not text and not clip:
        raise LabelError("empty", "nothing to save", "type the text or record it")
    if uuid is not None:
        found = Label.get_or_none(Label.uuid == uuid)
        if found is not None:
            return found
    sha = mime = ""
    seconds = None
    if clip:
        info = check_clip(clip)
        sha, _size = blobs.put_bytes(data_dir, clip)  # durable before the row names it
        mime, seconds = info.mime, info.seconds
    with database.atomic():
        row = Label.create(uuid=uuid or str(uuidlib.uuid4()), key=key, lang=lang, text=text,
                           clip_sha256=sha, clip_mime=mime, clip_seconds=seconds,
                           origin=origin, created_at=created_at or now())
        if not origin:  # made here: central shares it with the region
            outbox.append(kinds.LABEL_RECORDED, payload_of(row))
    return row


def payload_of(row: Label) -> dict:
    return {"uuid": row.uuid, "key": row.key, "lang": row.lang, "text": row.text,
            "clip_sha256": row.clip_sha256, "clip_mime": row.clip_mime,
            "clip_seconds": row.clip_seconds, "created_at": row.created_at}


def receive_shared(payload: dict, data_dir: str | Path) -> str:
    """A label central shares from a box of the region (``label.shared``): kept once by
    uuid; its clip, if this box lacks it, joins the sync's downloads (verified pieces,
    resumed after a cut). Runs in the pull's transaction; returns who applied it."""
    from ..sync import state

    if Label.select().where(Label.uuid == payload["uuid"]).exists():
        return "labels"  # our own, back from central, or the same record again
    try:
        key, lang = check_key(payload["key"]), check_lang(payload["lang"])
        text = clean_text(payload.get("text") or "")
    except LabelError:
        return ""  # kept in sync_inbox, not applied
    sha = payload.get("clip_sha256") or ""
    if sha and (not blobs.HEX64.fullmatch(sha) or payload.get("clip_mime") not in CLIP_MIMES):
        return ""
    Label.create(uuid=payload["uuid"], key=key, lang=lang, text=text, clip_sha256=sha,
                 clip_mime=payload.get("clip_mime") or "",
                 clip_seconds=payload.get("clip_seconds"),
                 origin=payload.get("origin") or "central",
                 created_at=payload.get("created_at") or now())
    if sha and not blobs.path_for(data_dir, sha).exists():
        import json

        state.SyncDownload.insert(
            sha256=sha, name=f"label-{sha[:16]}", size=int(payload.get("clip_size") or 0),
            pieces=json.dumps(payload.get("pieces") or []),
            dest=str(blobs.path_for(data_dir, sha))).on_conflict_ignore().execute()
    return "labels"


def version() -> int:
    """Changes whenever a label is added (here or synced): pages cached with labels
    are keyed by it."""
    row = database.execute_sql("SELECT max(id) FROM label").fetchone()
    return row[0] or 0


def current(lang: str, data_dir: str | Path | None = None
            ) -> tuple[dict[str, str], dict[str, Clip]]:
    """(texts, clips) for ``lang``: the newest non-empty text and clip of each key. With
    ``data_dir``, a clip still downloading is left out (an older one of the key, if
    present, stays)."""
    texts: dict[str, str] = {}
    clips: dict[str, Clip] = {}
    rows = database.execute_sql(
        "SELECT key, text, clip_sha256, clip_mime FROM label WHERE lang = ?"
        " ORDER BY created_at, id", (lang,))
    for key, text, sha, mime in rows:
        if text:
            texts[key] = text
        if sha and (data_dir is None or blobs.path_for(data_dir, sha).exists()):
            clips[key] = Clip(sha, mime)
    return texts, clips


def missing_clips() -> bool:
    """Whether a shared clip is still downloading (pages then look again each time)."""
    from ..sync import state

    return (state.SyncDownload.select().where((state.SyncDownload.done == 0)
                                              & state.SyncDownload.name.startswith("label-"))
            .exists())


# What a clip may be served as: what check_clip accepts. A label synced from another
# box names its own type; anything else (text/html from a stolen box key) would run as
# a page on every box of the region.
CLIP_MIMES = frozenset({"audio/webm", "audio/ogg"})


def clip_mime(sha256: str) -> str | None:
    row = (Label.select(Label.clip_mime).where(Label.clip_sha256 == sha256).first())
    if row is None:
        return None
    return row.clip_mime if row.clip_mime in CLIP_MIMES else "application/octet-stream"


def corrections(lang: str) -> dict[str, str]:
    """msgid -> corrected text, for the catalogue of ``lang``."""
    texts, _ = current(lang)
    return {k[4:]: v for k, v in texts.items() if k.startswith("msg:")}


PHOTO_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
MAX_PHOTO_BYTES = 512 * 1024


def photo_type(data: bytes) -> str | None:
    for magic, mime in PHOTO_TYPES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_photo(name: str, data: bytes, data_dir: str | Path) -> str:
    """The face of the officials called ``name``, taken at the kiosk; returns its hash."""
    from ..models import Official

    if len(data) > MAX_PHOTO_BYTES:
        raise LabelError("photo_too_large", "the photo is too large", "take it again, closer")
    if photo_type(data) is None:
        raise LabelError("not_photo", "not a JPEG, PNG or WebP photo", "take it again")
    sha, _size = blobs.put_bytes(data_dir, data)
    with database.atomic():
        Official.update(photo_sha256=sha).where(Official.name == name).execute()
    return sha
