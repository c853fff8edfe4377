"""Voice notes on central: posts' and answers' voice played in the admin's browser, and
a voice answer recorded there (issue 15), kept in the blob store and sent down to the
box as a file in verified pieces (the way a shared label's clip goes).

What a box sends is not trusted to be audio (its key could be stolen), nor is what a
browser uploads: a blob is served as audio only when its first bytes are an Ogg or
WebM container, else as bytes to download; an upload is refused unless it is one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sync_contract import protocol
from sync_contract.atomic import atomic_open, fsync_dir

from .i18n import _l
from .models import FileEntry
from .service import FieldError, reuse_blob

# Containers a voice note may be in, by their first bytes (MediaRecorder makes WebM in
# Chromium, Ogg in Firefox; the box's kiosk makes either).
AUDIO_MAGIC = ((b"OggS", "audio/ogg"), (b"\x1a\x45\xdf\xa3", "audio/webm"))
# As the box's default board.max_voice_bytes: three minutes of Opus, with room.
MAX_VOICE_BYTES = 3_000_000


class VoiceRefused(FieldError):
    """An uploaded voice answer central will not keep (the form's ``voice`` field)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, "voice", status)


def sniff(head: bytes) -> str | None:
    """The audio type ``head`` (a file's first bytes) starts, or None."""
    return next((mime for magic, mime in AUDIO_MAGIC if head.startswith(magic)), None)


def blob_path(data_dir: str | Path, sha: str) -> Path:
    return Path(data_dir) / "blobs" / sha[:2] / sha


def served_type(path: Path) -> str:
    """What a blob may be served as: its audio type, or bytes to download."""
    with path.open("rb") as f:
        return sniff(f.read(4)) or "application/octet-stream"


def store(data_dir: str | Path, data: bytes) -> tuple[str, str]:
    """Keep an uploaded voice answer in the blob store; (sha256, mime). Durable before
    it returns (written beside, fsynced, renamed): the row naming it comes after.
    :class:`VoiceRefused` when it is empty, too large or not Ogg/WebM audio."""
    if not data:
        raise VoiceRefused(_l("Voice answer: the recording is empty; record it again."))
    if len(data) > MAX_VOICE_BYTES:
        raise VoiceRefused(
            _l(
                "Voice answer: %(kb)d kB, more than %(max)d kB; record a shorter answer.",
                kb=len(data) // 1000,
                max=MAX_VOICE_BYTES // 1000,
            ),
            413,
        )
    mime = sniff(data[:4])
    if mime is None:
        raise VoiceRefused(
            _l(
                "Voice answer: not a WebM or Ogg recording; record it in the page, or "
                "choose a .webm or .ogg file."
            )
        )
    sha = hashlib.sha256(data).hexdigest()
    final = blob_path(data_dir, sha)
    if not reuse_blob(final):
        with atomic_open(final) as f:
            f.write(data)
    return sha, mime


def publish(data_dir: str | Path, sha: str, name: str) -> tuple[int, list[str]] | None:
    """A blob as a catalogue file boxes download in verified pieces (a hard link to it):
    (size, piece hashes), or None when central does not hold it."""
    entry = FileEntry.get_or_none(FileEntry.sha256 == sha)
    if entry is not None:
        return entry.size, json.loads(entry.pieces)
    blob = blob_path(data_dir, sha)
    if not blob.is_file():
        return None
    data = blob.read_bytes()
    pieces = protocol.piece_hashes(data)
    files = Path(data_dir) / "files"
    files.mkdir(parents=True, exist_ok=True)
    if not (files / sha).exists():
        os.link(blob, files / sha)
        fsync_dir(files)
    FileEntry.create(sha256=sha, name=name, size=len(data), pieces=json.dumps(pieces))
    return len(data), pieces
