"""The core's scheduled jobs (sync, clean-up, programme releases), contributed to the
worker by :func:`appliance.contribute`; :mod:`espace.worker` runs them with every other
package's under APScheduler.

Each job is a plain function of the app. A job that fails logs and waits for its next
run; it never stops the scheduler. Long jobs check :data:`STOPPING` (set when the worker
stops) and stop at their next safe point.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask

from .db import database
from .models import Meta

log = logging.getLogger("espace.worker")
STOPPING = threading.Event()


def sync_job(app: Flask) -> object:
    """Push the outbox and pull from central when the link allows (the sync issue)."""
    from .errors import EspaceError
    from .sync import state
    from .sync.client import NotEnrolled, Options, SyncClient
    from .sync.enroll import enroll

    site = app.config["SITE"]
    if not site.central.url:
        return "no central server configured"
    if state.enrolment() is None and site.central.enrolment_code:
        # First boot: the image carries the one-time code in site.toml.
        enroll(site.central.url, site.central.enrolment_code, site.data_dir,
               site.central.ca_file)
    try:
        with SyncClient(Options.from_site(site)) as client:
            return client.run().summary()
    except NotEnrolled as e:
        return str(e)
    except EspaceError as e:  # the link broke or central refused: next run resumes
        return f"sync stopped: {e}"


def cleanup_job(app: Flask) -> object:
    """Forget yesterday's visitor-hash salts: yesterday's hashes become unlinkable."""
    today = "salt:day:" + dt.date.today().isoformat()
    with database.atomic():
        n = (Meta.delete().where(Meta.key.startswith("salt:day:") & (Meta.key != today))
             .execute())
    return f"forgot {n} old salts"


def programme_release_job(app: Flask) -> object:
    """Give reserved seats released at their time to the waiting lists (the pages do
    it too when looked at; this makes it happen when nobody looks)."""
    from .programme.rules import release_due

    return f"promoted {release_due()} waiting bookings"


def sweep_blobs(site) -> object:
    """Remove the temporary files a power cut left in the blob store."""
    from .blobs import sweep_temporary

    n = sweep_temporary(site.data_dir)
    return f"removed {n} temporary file(s)" if n else ""
