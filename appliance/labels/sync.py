"""The labels' down-kind: ``label.shared`` (see :func:`appliance.labels.rules.receive_shared`)."""

from __future__ import annotations

from typing import Any

from sync_contract import kinds


def _shared(payload: dict, options: Any) -> str:
    if options is None:
        return ""  # no data directory to put the clip in: stays in sync_inbox
    from . import rules  # when a record comes: a sync with none never imports it

    return rules.receive_shared(payload, options.data_dir)


def register_sync(registry) -> None:
    registry.add(kinds.LABEL_SHARED, _shared)
