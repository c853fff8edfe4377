"""The layout of a sync USB stick, shared by ``espace sync export/import`` and
``central import/export``::

    espace-sync/<box_id>/blob-<sha256>.esync     a voice note in one signed upload frame
    espace-sync/<box_id>/up-NNNNNN-<stream>.esync a signed exchange request
    espace-sync/<box_id>/down-*.esync            32-byte request digest + signed response
    espace-sync/files/<sha256>                   a catalogue file (a ZIM)

Every file is written with :func:`sync_contract.atomic.write_atomic`: a stick pulled
out mid-write leaves a ``.tmp`` file that importers ignore, never a torn frame.
"""

from __future__ import annotations

from pathlib import Path

ROOT = "espace-sync"
FILES = "files"
NO_REQUEST = b"\x00" * 32  # request digest of an unsolicited response (central export)


def box_dir(directory: str | Path, box_id: str) -> Path:
    return Path(directory) / ROOT / box_id


def files_dir(directory: str | Path) -> Path:
    return Path(directory) / ROOT / FILES


def box_dirs(directory: str | Path) -> list[Path]:
    root = Path(directory) / ROOT
    return sorted(p for p in root.glob("*") if p.is_dir() and p.name != FILES)


def blob_name(sha: str) -> str:
    return f"blob-{sha}.esync"


def up_name(n: int, stream: str) -> str:
    return f"up-{n:06d}-{stream}.esync"


def down_name_for(up_file: str) -> str:
    """The response file central writes beside an ``up-*`` file."""
    return "down-" + up_file[3:]


def down_name_central(last_id: int) -> str:
    return f"down-central-{last_id:09d}.esync"


BLOB_GLOB, UP_GLOB, DOWN_GLOB = "blob-*.esync", "up-*.esync", "down-*.esync"
