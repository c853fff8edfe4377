"""Helpers for tests: import them as ``from tests.support import ...``."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SBIN = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def require_program(program: str, package: str) -> str:
    """The program's path; skip (fail under CI=true) naming the Debian package."""
    path = shutil.which(program, path=SBIN)
    if not path:
        message = f"needs {program}: apt-get install {package}"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        message = f"needs root: {why}"
        if CI:
            pytest.fail(message)
        pytest.skip(message)


def make_site(tmp_path: Path, **sections) -> dict:
    """A valid site document with its data directory under tmp_path."""
    doc = {
        "site": {"id": "test-site", "name": "Espace de test", "communes": ["Nioro", "Kayes"],
                 "languages": ["fr", "bm", "snk", "en"],
                 # Tests read English (the msgids) unless they choose a language.
                 "default_language": "en"},
        "storage": {"data_dir": str(tmp_path / "data")},
    }
    for name, values in sections.items():
        doc.setdefault(name, {}).update(values)
    site = doc["site"]
    if site["default_language"] not in site["languages"]:
        site["default_language"] = site["languages"][0]
    return doc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app behind waitress on a loopback port, in a thread; close() is idempotent."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 4,
                 **options):
        from waitress.server import create_server

        options = {"threads": threads, "ident": "espace-test", **options}
        self.server = create_server(app, host=host, port=port or free_port(), **options)
        self.url = f"http://{host}:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, name="live-server",
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop from inside the server's own loop: closing sockets from this thread
        while the loop selects on them raises EBADF there."""
        if not self.thread.is_alive():
            return
        server = self.server

        def stop() -> None:
            for dispatcher in list(server._map.values()):
                dispatcher.close()

        try:
            server.trigger.pull_trigger(stop)
        except OSError:
            # The loop closed its trigger itself (seen once, EBADF, in a full run: the
            # loop was ending on its own); its worker threads must still be stopped.
            pass
        self.thread.join(timeout=10)
        server.task_dispatcher.shutdown()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def csrf(client) -> str:
    """The CSRF token of ``client``'s session (made if absent), for a form posted
    directly; pages carry it in a hidden ``csrf`` field (appliance.csrf)."""
    with client.session_transaction() as session:
        session.setdefault("csrf", "test-csrf-token")
        return session["csrf"]


def kiosk_login(client, name: str = "Awa", seen: float | None = None) -> None:
    """Log ``client`` in as facilitator ``name`` without typing a PIN: a real session
    row (appliance.kiosk.auth), the facilitator added to the site if absent."""
    import time

    from appliance.db import database
    from appliance.kiosk import auth

    app = client.application
    facilitators = app.config["SITE"].kiosk.facilitators
    match = next((f for f in facilitators if f["name"] == name), None)
    if match is None:
        match = {"name": name, "pin_hash": "scrypt:test-only"}
        facilitators.append(match)
    with app.app_context():
        database.connect(reuse_if_open=True)
        with database.atomic():
            key = auth.new_session_row(match)
    with client.session_transaction() as session:
        session["facilitator"] = name
        session["kiosk_sid"] = key
        session["seen"] = time.time() if seen is None else seen
