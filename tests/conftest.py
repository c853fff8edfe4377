"""Shared fixtures: a real SQLite file per test, the box's app, a live waitress
server on loopback, Debian's chromium through Playwright, and the rule that a test
needing a missing program skips outside CI and fails in CI."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support import ARTIFACTS, CHROMIUM_ARGS, CI, LiveServer, make_site, require_program


def pytest_sessionfinish(session, exitstatus):
    """In CI a skipped test is a failure: what it would check went unchecked."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if CI and reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        reporter.write_line("CI=true: skipped tests count as failures", red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _no_thread_leak():
    """A test leaves no thread running (sockets, schedulers, servers closed)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()
              and not t.name.startswith(("asyncio_", "Dummy"))]
    for t in leaked:
        t.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def site_doc(tmp_path) -> dict:
    return make_site(tmp_path)


@pytest.fixture
def app(site_doc, tmp_path):
    from appliance import create_app
    from appliance.db import database

    app = create_app({"SITE": site_doc, "SITE_DIR": tmp_path, "TESTING": True,
                      "SECRET_KEY": "test-secret"})
    try:
        yield app
    finally:
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """The app's database, connected in this thread."""
    from appliance.db import database

    database.connect(reuse_if_open=True)
    yield database
    database.close()


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def playwright():
    """One Playwright per test process: its sync API refuses to start twice."""
    require_program("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright):
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    path = require_program("chromium", "chromium")
    b = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def phone(browser):
    """A page at phone size (360x640), touch, like the cheap Androids visitors hold."""
    context = browser.new_context(viewport={"width": 360, "height": 640}, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def touchscreen(browser):
    """A page at the Pi's official 7-inch touchscreen size (800x480)."""
    context = browser.new_context(viewport={"width": 800, "height": 480}, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()
