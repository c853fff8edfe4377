"""The library's worker jobs (contributed by :func:`content_cache.contribute`): usage
roll-ups, resumable downloads, precompression, and the start-up sweep of cut imports."""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask

from appliance.worker import STOPPING

log = logging.getLogger("espace.worker")


def usage_rollup_job(app: Flask) -> object:
    """Fold each finished hour of library usage into one outbox event (the portal's
    daily visits are rolled up by its own job)."""
    from .usage import rollup

    return f"{rollup()} hour(s) of library usage rolled up"


def content_download_job(app: Flask) -> object:
    """Continue queued or interrupted content downloads, within the data budget."""
    from .fetch import resume_all

    return resume_all(app.config["SITE"])


def content_precompress_job(app: Flask) -> object:
    """Compress the text of new books once (the library then serves their pages
    without decompressing the ZIM); a cut build resumes; stops with the worker."""
    from .precompressed import build_missing

    site = app.config["SITE"]
    outcome: list = []

    def build() -> None:
        # A thread of its own, niced (Linux: per thread), so visitors' requests come
        # first; an unprivileged process could not un-nice a pool thread afterwards.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            outcome.extend(
                build_missing(
                    site.content_dir,
                    reserve_mb=site.storage.reserve_mb,
                    budget_mb=site.storage.precompressed_mb,
                    should_stop=STOPPING.is_set,
                )
            )
        except Exception as e:  # noqa: BLE001 - reported as the job's result
            log.exception("precompressing failed")
            outcome.append(f"failed: {e}")

    t = threading.Thread(target=build, name="precompress")
    t.start()
    t.join()
    return "; ".join(map(str, outcome)) or "every book is precompressed"


def sweep_imports(site) -> object:
    """Remove what a power cut during ``espace content import`` left (a partial
    ``.NAME.importing`` copy, possibly gigabytes); an import still running in another
    process holds its file locked and is left alone."""
    from .store import cleanup

    gone = cleanup(site.content_dir)
    return f"removed {len(gone)} cut import(s): {', '.join(p.name for p in gone)}" if gone else ""
