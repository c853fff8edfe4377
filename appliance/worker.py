"""``espace worker``: the box's scheduled jobs, run by APScheduler.

Each job is a plain function of the app, registered in :data:`JOBS` with its
trigger, so the CLI, the tests and the kiosk list the same jobs. A job that fails
logs and waits for its next run; it never stops the scheduler.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from .db import database
from .models import Meta

log = logging.getLogger("espace.worker")
STOPPING = threading.Event()


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[Flask], object]
    trigger: str  # "interval" or "cron"
    args: dict
    description: str


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


def usage_rollup_job(app: Flask) -> object:
    """Fold each finished hour of library usage, and each finished day of visits, into
    one outbox event each."""
    from captive_portal import visits
    from content_cache.usage import rollup

    return (f"{rollup()} hour(s) of library usage and {visits.rollup()} day(s) of visits "
            "rolled up")


def content_download_job(app: Flask) -> object:
    """Continue queued or interrupted content downloads, within the data budget."""
    from content_cache.fetch import resume_all

    return resume_all(app.config["SITE"])


def content_precompress_job(app: Flask) -> object:
    """Compress the text of new books once (the library then serves their pages
    without decompressing the ZIM); a cut build resumes; stops with the worker."""
    import os

    from content_cache.precompressed import build_missing

    site = app.config["SITE"]
    outcome: list = []

    def build() -> None:
        # A thread of its own, niced (Linux: per thread), so visitors' requests come
        # first; an unprivileged process could not un-nice a pool thread afterwards.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            outcome.extend(build_missing(site.content_dir, reserve_mb=site.storage.reserve_mb,
                                         budget_mb=site.storage.precompressed_mb,
                                         should_stop=STOPPING.is_set))
        except Exception as e:  # noqa: BLE001 - reported as the job's result
            log.exception("precompressing failed")
            outcome.append(f"failed: {e}")

    t = threading.Thread(target=build, name="precompress")
    t.start()
    t.join()
    return "; ".join(map(str, outcome)) or "every book is precompressed"


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


JOBS: list[Job] = [
    Job("sync", sync_job, "interval", {"minutes": 5}, "sync with central when allowed"),
    Job("usage_rollup", usage_rollup_job, "interval", {"hours": 1}, "roll up usage events"),
    Job("content_download", content_download_job, "interval", {"minutes": 10},
        "resume content downloads"),
    Job("content_precompress", content_precompress_job, "interval", {"minutes": 10},
        "compress new books' text once"),
    Job("cleanup", cleanup_job, "cron", {"hour": 3, "minute": 17}, "daily clean-up"),
    Job("programme_release", programme_release_job, "interval", {"minutes": 5},
        "give released reserved seats to the waiting lists"),
]


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


def build_scheduler(app: Flask) -> BackgroundScheduler:
    """A scheduler with every job registered (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in JOBS:
        # coalesce: after a power cut, missed runs collapse into one.
        scheduler.add_job(_runner(app, job), job.trigger, id=job.id, name=job.description,
                          coalesce=True, max_instances=1, misfire_grace_time=3600, **job.args)
    return scheduler


def run(app: Flask) -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    # The handlers only set a flag: shutting the scheduler down from inside a signal
    # handler can deadlock on its locks.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler = build_scheduler(app)
    scheduler.start()
    log.info("worker started with jobs: %s", ", ".join(j.id for j in JOBS))
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
