"""The directory's down-kind: ``place.shared`` (another box's entry, from central)."""

from __future__ import annotations

from typing import Any

from sync_contract import kinds

from . import directory


def _shared(payload: dict, options: Any) -> str:
    return directory.receive_shared(payload)


def register_sync(registry) -> None:
    registry.add(kinds.PLACE_SHARED, _shared)
