"""The board's part of the sync: what it does with what central sends down."""

from __future__ import annotations

import json
from typing import Any

from sync_contract import kinds
from sync_contract.handlers import Registry

from .. import blobs

# The board's rules (with the programme's and the audio checks they import) are imported
# by the handlers, when a record of the board's kinds comes: most syncs bring none, and
# `espace sync now`'s peak memory is a contract (bench/sync.py T9).

# The largest voice answer a box downloads: board.max_voice_bytes's upper bound (central
# itself keeps answers under 3 MB).
MAX_VOICE_BYTES = 50_000_000


def _answer(payload: dict[str, Any], options: Any) -> str:
    from . import rules

    sha = payload.get("voice_sha256") or ""
    if sha and not _downloadable(payload):
        # Not a type a visitor's phone may be handed, not a hash, or no pieces to check
        # the bytes against (a download that could never finish): the text only.
        payload = {**payload, "voice_sha256": "", "voice_mime": ""}
        sha = ""
    if not sha and not str(payload.get("body") or "").strip():
        return ""  # nothing a visitor could read or hear: kept in sync_inbox, unapplied
    # None: the post is not on this box (yet); the record stays in sync_inbox.
    if rules.receive_answer(payload) is None:
        return ""
    if sha and options is not None:
        _download_voice(payload, options.data_dir)
    return "board"


def _downloadable(payload: dict[str, Any]) -> bool:
    from .rules import CENTRAL_VOICE_MIMES

    size, pieces = payload.get("voice_bytes"), payload.get("pieces")
    return (
        payload.get("voice_mime") in CENTRAL_VOICE_MIMES
        and bool(blobs.HEX64.fullmatch(payload["voice_sha256"]))
        and isinstance(size, int)
        and 0 < size <= MAX_VOICE_BYTES
        and isinstance(pieces, list)
        and bool(pieces)
        and all(isinstance(p, str) for p in pieces)
    )


def _download_voice(payload: dict[str, Any], data_dir) -> None:
    """A voice answer recorded at central joins the sync's downloads (verified pieces,
    resumed after a cut), unless this box has it; the portal plays it once it is in the
    blob store (the route 404s until then)."""
    from ..sync import state

    sha = payload["voice_sha256"]
    dest = blobs.path_for(data_dir, sha)
    if dest.exists():
        return
    state.SyncDownload.insert(
        sha256=sha,
        name=f"answer-{sha[:16]}",
        size=int(payload.get("voice_bytes") or 0),
        pieces=json.dumps(payload.get("pieces") or []),
        dest=str(dest),
    ).on_conflict_ignore().execute()


def _forward(payload: dict[str, Any], options: Any) -> str:
    from . import rules

    return "board" if rules.receive_forward(payload) is not None else ""


def register_sync(registry: Registry) -> None:
    registry.add(kinds.ANSWER, _answer)
    registry.add(kinds.POST_FORWARDED, _forward)
