"""Central's production HTTP server: gunicorn with threaded workers.

Why gunicorn (``gthread`` workers): it hands the request body to the app as it arrives
(``wsgi.input`` reads the socket), so a voice-note upload cut by the link keeps what
arrived; it keeps a box's connection open between requests (keep-alive: one TCP
connection per sync run, where werkzeug's development server closed each); it runs
several processes, each with a pool of threads, and restarts one that dies. Several
machines each running it in front of one PostgreSQL and one shared blob directory make
a country-wide central (docs/sync.md).
"""

from __future__ import annotations

import os
from typing import Any

from werkzeug.serving import WSGIRequestHandler

MASTER_PID = "CENTRAL_MASTER_PID"  # for crash points: kill the whole server, as a cut does


class QuietHandler(WSGIRequestHandler):
    """For tests that run central in-process on werkzeug's server."""

    server_version = "central"
    sys_version = ""

    def version_string(self) -> str:
        return "c"


def options(host: str, port: int, workers: int = 2, threads: int = 8) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        # A box keeps its connection for a whole run; a run waits at most a few
        # seconds between requests (budget, disk), never a minute.
        "keepalive": 75,
        "timeout": 120,
        "graceful_timeout": 10,
        "proc_name": "central",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


def serve(app, host: str, port: int, workers: int = 2, threads: int = 8) -> None:
    """Run ``app`` under gunicorn until SIGTERM/SIGINT."""
    from gunicorn.app.base import BaseApplication

    settings = options(host, port, workers, threads)

    class Central(BaseApplication):
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    os.environ[MASTER_PID] = str(os.getpid())
    Central().run()
