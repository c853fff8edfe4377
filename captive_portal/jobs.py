"""The portal's worker job and start-up sweep (contributed by
:func:`captive_portal.contribute`)."""

from __future__ import annotations

from flask import Flask


def visits_rollup_job(app: Flask) -> object:
    """Fold each finished day of visits into one outbox event."""
    from . import visits

    return f"{visits.rollup()} day(s) of visits rolled up"


def recover_voice_notes(site) -> object:
    """After a crash: finish or undo the voice notes a cut left half-way (a note a
    live upload holds locked is left alone)."""
    from appliance.board import rules

    promoted, deleted = rules.recover_incoming(site.data_dir)
    if promoted or deleted:
        return f"after a crash, {promoted} voice notes kept, {deleted} removed"
    return ""
