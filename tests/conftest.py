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


# Libraries a minimal Debian lacks that Playwright's driver or chromium load, and the
# package that has each (issue 23: libatomic.so.1 was missing on a fresh bookworm).
LIBRARY_PACKAGES = {"libatomic.so.1": "libatomic1"}


def missing_libraries(binary: str) -> list[str]:
    """Shared libraries ``binary`` needs that the dynamic loader cannot find."""
    import subprocess

    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True,  # noqa: S603,S607
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split()[0] for line in out.splitlines() if "=> not found" in line]


def _cannot_start(what: str, binaries: list[str], error: Exception) -> None:
    """Fail naming the missing libraries (and their packages), not with a broken pipe."""
    missing = sorted({lib for b in binaries for lib in missing_libraries(b)})
    if missing:
        packages = sorted({LIBRARY_PACKAGES.get(lib, f"(the package that has {lib})")
                           for lib in missing})
        pytest.fail(f"{what} cannot start: missing {', '.join(missing)}; apt-get install "
                    f"{' '.join(packages)} (and list it in scripts/apt-test.txt)",
                    pytrace=False)
    pytest.fail(f"{what} cannot start: {error}", pytrace=False)


def _driver_binaries() -> list[str]:
    try:
        from playwright._impl._driver import compute_driver_executable

        found = compute_driver_executable()
    except Exception:  # a private helper: its shape may change between versions
        return []
    return [str(p) for p in (found if isinstance(found, tuple) else (found,))
            if str(p).endswith("node")]


@pytest.fixture(scope="session")
def playwright():
    """One Playwright per test process: its sync API refuses to start twice. If its
    driver cannot start, fail at once naming the missing library."""
    require_program("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    try:
        pw = sync_playwright().start()
    except Exception as e:  # "Connection closed while reading from the driver"
        _cannot_start("Playwright's driver", _driver_binaries(), e)
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright):
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    path = require_program("chromium", "chromium")
    try:
        b = playwright.chromium.launch(executable_path=path, headless=True,
                                       args=CHROMIUM_ARGS)
    except Exception as e:
        _cannot_start("chromium", ["/usr/lib/chromium/chromium", path], e)
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
