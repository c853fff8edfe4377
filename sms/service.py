"""The SMS side of the box in one call: what the worker runs every minute and what
RunOnReceive runs after storing a message."""

from __future__ import annotations

import datetime as dt
import logging
import time

from . import gammu, outgoing, rules

log = logging.getLogger("espace.sms")

INBOX_GRACE_S = 120  # a RunOnReceive still running owns its files this long


def tick(
    site, *, now: dt.datetime | None = None, inbox_grace: float = INBOX_GRACE_S
) -> dict[str, int]:
    """Record what gammu-smsd sent, take messages RunOnReceive missed, handle what is
    stored, queue new answers (whichever process applied them) and the latest answer for
    numbers linked to a post after it was answered, queue due reminders,
    forget expired numbers, and send within the budget. Idempotent; needs an app context
    (replies are rendered in the sender's language)."""
    spool = gammu.Spool.for_site(site)
    spool.make()
    sent, requeued, failed = outgoing.reconcile(spool, now=now)
    swept = 0
    for files in spool.leftover_inbox(inbox_grace, time.time()):
        rules.store(gammu.from_files(files), now=now)
        gammu.delete_inbox(spool, [f.name for f in files])
        swept += 1
    handled = rules.handle_pending(now=now)
    answered = rules.queue_answers(now=now)
    answered_late = rules.queue_late_answers(now=now)  # numbers linked after the answer
    reminded = rules.remind_due(now=now)
    expired = rules.expire(now=now)
    handed = outgoing.flush(spool, site, now=now)
    return {
        "sent": sent,
        "requeued": requeued,
        "failed": failed,
        "swept": swept,
        "handled": handled,
        "answered": answered,
        "answered late": answered_late,
        "reminded": reminded,
        "expired": expired,
        "handed": handed,
    }


def worker_job(app) -> object:
    """The worker's ``sms`` job."""
    site = app.config["SITE"]
    if not site.sms.enabled:
        return "SMS is off (sms.enabled)"
    return ", ".join(f"{k} {v}" for k, v in tick(site).items() if v) or "nothing to do"
