"""Learning's down-kind: ``learning.feedback``, a trainer's answer from central
(see :func:`learning.coaching.receive_feedback`)."""

from __future__ import annotations

from typing import Any

from sync_contract import kinds


def _feedback(payload: dict, options: Any) -> str:
    if options is None:
        return ""  # no data directory to put the voice note in: stays in sync_inbox
    from . import coaching  # when a record comes: a sync with none never imports it

    return coaching.receive_feedback(payload, options.data_dir)


def register_sync(registry) -> None:
    registry.add(kinds.LEARNING_FEEDBACK, _feedback)
