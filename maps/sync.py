"""The directory's down-kind: ``place.shared`` (another box's entry, from central)."""

from __future__ import annotations

from typing import Any

from sync_contract import kinds


def _shared(payload: dict, options: Any) -> str:
    from . import directory  # when a record comes: a sync with none never imports it

    return directory.receive_shared(payload)


def register_sync(registry) -> None:
    registry.add(kinds.PLACE_SHARED, _shared)
