"""The board's part of the sync: what it does with what central sends down."""

from __future__ import annotations

from typing import Any

from sync_contract import kinds
from sync_contract.handlers import Registry

from . import rules


def _answer(payload: dict[str, Any], options: Any) -> str:
    # None: the post is not on this box (yet); the record stays in sync_inbox.
    return "board" if rules.receive_answer(payload) is not None else ""


def register_sync(registry: Registry) -> None:
    registry.add(kinds.ANSWER, _answer)
