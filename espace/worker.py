"""``espace worker``: every package's scheduled jobs, run by APScheduler.

The jobs come from the registry the app was made with (:mod:`espace.app`), so the
worker, the CLI and the tests list the same jobs. The worker builds the whole app
first: the start-up sweeps run, and each package's pull handlers are registered, as in
the web process. A job that fails logs and waits for its next run; it never stops the
scheduler.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from appliance.db import database
from appliance.worker import STOPPING

from .app import EXTENSION, run_sweeps
from .registry import Job

log = logging.getLogger("espace.worker")


def _runner(app: Flask, job: Job) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            database.connect(reuse_if_open=True)
            try:
                log.info("%s: %s", job.id, job.func(app))
            except Exception:
                log.exception("%s failed; it runs again at its next time", job.id)
            finally:
                database.close()

    return run


def jobs(app: Flask) -> list[Job]:
    """Every contributed job, and the daily sweep of what power cuts left."""
    reg = app.extensions[EXTENSION]

    def sweep_job(app: Flask) -> object:
        return "; ".join(run_sweeps(app, reg)) or "nothing to sweep"

    return [
        *reg.jobs,
        Job(
            "sweep",
            sweep_job,
            "cron",
            {"hour": 3, "minute": 47},
            "daily sweep of files power cuts left half-written",
        ),
    ]


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """A scheduler with every job registered (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in jobs(app):
        # coalesce: after a power cut, missed runs collapse into one.
        scheduler.add_job(
            _runner(app, job),
            job.trigger,
            id=job.id,
            name=job.description,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
            **job.args,
        )
    return scheduler


def run(app: Flask) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    # The handlers only set a flag: shutting the scheduler down from inside a signal
    # handler can deadlock on its locks.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler = build_scheduler(app)
    scheduler.start()
    log.info("worker started with jobs: %s", ", ".join(j.id for j in jobs(app)))
    advertiser = _advertise(app)
    try:
        while not stop.wait(3600):
            pass
    finally:
        STOPPING.set()  # long jobs check it and stop at their next safe point
        if advertiser is not None:
            advertiser.close()
        scheduler.shutdown(wait=True)
        log.info("worker stopped")


def _advertise(app: Flask):
    """The box on the LAN as ``_espace._tcp`` (provisioning.mdns; no avahi-daemon), so
    that ``espace fleet discover`` finds it. No network yet is not an error."""
    try:
        from provisioning.mdns import advertiser_for

        return advertiser_for(app.config["SITE"]).start()
    except Exception:
        log.warning("mDNS advertising not started", exc_info=True)
        return None
