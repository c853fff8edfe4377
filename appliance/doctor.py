"""``espace doctor``: every check a technician needs on site, each with its fix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil

from . import db as dbmod
from . import migrations, settings
from .errors import ConfigError

OK, WARN, FAIL = "OK", "WARN", "FAIL"
# The date this software was built (appliance.app's BUILD_DATE): a clock before it is wrong.
BUILD_DATE = "2026-11-01"

# program -> Debian package, for the box's system services.
PROGRAMS = {"hostapd": "hostapd", "dnsmasq": "dnsmasq", "nft": "nftables"}


def run_checks(site_path: str, path_env: str | None = None) -> Iterator[tuple[str, str, str]]:
    try:
        site = settings.load(site_path)
    except ConfigError as e:
        yield FAIL, "site config", f"{len(e.problems)} problem(s)"
        for problem in e.problems:
            yield FAIL, "  " + problem, ""
        return
    yield OK, "site config", f"{site_path} (site {site.site.id})"

    data_dir = Path(site.data_dir)
    yield from _box_notices(site, data_dir)
    if not data_dir.is_dir():
        yield FAIL, "data directory", f"{data_dir} is missing; fix: start `espace serve` once "\
            "or create it"
        return
    if not os.access(data_dir, os.W_OK):
        yield FAIL, "data directory", f"{data_dir} is not writable; fix: chown it to the " \
            "espace user"
    else:
        yield OK, "data directory", str(data_dir)

    yield from _database_checks(data_dir)
    yield from _sync_and_clock_checks(data_dir)
    yield from _service_checks(path_env)

    disk = shutil.disk_usage(data_dir)
    free_mb, reserve = disk.free // 2**20, site.storage.reserve_mb
    if free_mb < reserve:
        yield FAIL, "disk space", f"{free_mb} MB free, below the {reserve} MB reserve; fix: " \
            "`espace content remove` a ZIM"
    elif free_mb < 2 * reserve:
        yield WARN, "disk space", f"{free_mb} MB free, close to the {reserve} MB reserve"
    else:
        yield OK, "disk space", f"{free_mb} MB free of {disk.total // 2**20} MB"

    available = psutil.virtual_memory().available // 2**20
    yield (WARN if available < 100 else OK), "free memory", f"{available} MB available"

    for program, package in PROGRAMS.items():
        if shutil.which(program, path=path_env) or shutil.which(
                program, path="/usr/sbin:/sbin:/usr/bin:/bin"):
            yield OK, f"program {program}", ""
        else:
            yield WARN, f"program {program}", f"missing; fix: apt-get install {package}"

    yield from _secure_origin_checks(data_dir, path_env)

    from sms.doctor import checks as sms_checks  # the modem, signal, SIM (docs/sms.md)

    yield from sms_checks(site, path_env=path_env)

    from content_cache.library import read_book

    for zim in sorted(Path(site.content_dir).glob("*.zim")) if site.content_dir.is_dir() else []:
        try:
            book = read_book(zim)
            yield OK, f"content {zim.name}", f"{book.title}, {book.article_count} articles"
        except RuntimeError as e:
            yield FAIL, f"content {zim.name}", f"unreadable ({e}); fix: remove it with " \
                "`espace content remove` and import it again"


def _box_notices(site, data_dir: Path) -> Iterator[tuple[str, str, str]]:
    """What espace-boot and the worker noticed: a site file on the card that was not
    used, another box on the LAN with this site's id, the SSH fingerprints."""
    from . import box_notices

    problem = box_notices.site_problem(data_dir)
    if problem:
        lines = problem.splitlines()
        yield FAIL, "site file on the boot partition", f"{lines[0]}; fix: correct it " \
            "(`espace config check espace-site.toml` on a laptop), then reboot"
        for line in lines[1:]:
            yield FAIL, "  " + line, ""
    for twin in box_notices.lan_twins(data_dir):
        yield WARN, "same site id on the LAN", f"another box ({twin.get('host', '?')}, " \
            f"{twin.get('address', '?')}) announces site {site.site.id!r}; fix: give each " \
            "card its own site file (site.id)"
    fps = box_notices.fingerprints(data_dir)
    if fps:
        yield OK, "ssh host keys", ", ".join(f"{k} {v}" for k, v in fps.items())


def _database_checks(data_dir: Path) -> Iterator[tuple[str, str, str]]:
    path = data_dir / dbmod.DB_NAME
    if not path.exists():
        yield WARN, "database", f"{path} does not exist yet; it is created at first start"
        return
    try:
        database = dbmod.open_database(data_dir, as_root=True)  # exists: read only
        result = dbmod.integrity_check(database)
        done = set(migrations.applied(database))
        database.close()
    except Exception as e:  # a corrupt file raises many different sqlite errors
        yield FAIL, "database", f"cannot open {path}: {e}; fix: restore the latest backup"
        return
    if result != "ok":
        yield FAIL, "database integrity", f"{result}; fix: restore the latest backup"
    else:
        yield OK, "database integrity", "ok"
    pending = [n for n, _ in migrations.available() if n not in done]
    if pending:
        yield WARN, "database schema", f"{len(pending)} migration(s) pending; they are " \
            "applied at the next start of espace-web"
    else:
        yield OK, "database schema", f"up to date ({len(done)} migrations)"


# The box's own units (provisioning/templates): each must be running on a box.
SERVICES = ("espace-web", "espace-worker", "espace-hotspot")


def _sync_and_clock_checks(data_dir: Path) -> Iterator[tuple[str, str, str]]:
    """Enrolment, whether the sync works (the last error and since when, from
    ``sync_run``), and whether the clock can be right (issue 15)."""
    import datetime as dt

    from . import health
    from .kiosk import clock

    if not (data_dir / dbmod.DB_NAME).exists():
        return
    try:
        database = dbmod.open_database(data_dir, as_root=True)  # exists: read only
        try:
            if "m0005_sync" not in set(migrations.applied(database)):
                return
            sync = health.sync_state()
        finally:
            database.close()
    except Exception:  # noqa: BLE001 - a broken database is reported by its own check
        return
    where = "; fix: "
    if sync["state"] == "not_enrolled":
        yield WARN, "enrolment", "not enrolled with central: nothing is sent" + where + \
            "`espace sync enroll --central URL --code CODE` with the code central's admin gives"
    else:
        yield OK, "enrolment", "enrolled"
    if sync["state"] == "revoked":
        yield FAIL, "sync", f"central refuses this box since {sync['failing_since']} " \
            f"({sync['last_error']})" + where + "ask the regional admin for a new code, " \
            "then `espace sync enroll` again"
    elif sync["state"] == "failing":
        yield WARN, "sync", f"failing since {sync['failing_since']} " \
            f"({sync['failed_runs']} attempts; last error: {sync['last_error']}); last " \
            f"success {sync['last_success'] or 'never'}" + where + "check the uplink " \
            "(`espace network status`) and central.url, then `espace sync now`"
    elif sync["state"] == "never":
        yield WARN, "sync", "enrolled but never synced" + where + "`espace sync now`"
    elif sync["state"] == "ok":
        yield OK, "sync", f"last success {sync['last_success']}"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    build = dt.date.fromisoformat(BUILD_DATE)
    problems = clock.problems(now, build, clock.parse_iso_utc(sync["last_success"]))
    if any(p in problems for p in ("before_build", "before_last_sync")):
        yield FAIL, "clock", f"{now:%Y-%m-%d %H:%M} UTC is before " + (
            f"this software's build ({build})" if "before_build" in problems else
            f"the last sync ({sync['last_success']})") + where + "set it at the kiosk " \
            "(Health, Set the clock) or `timedatectl set-time`"
    elif problems:
        yield WARN, "clock", f"{now:%Y-%m-%d %H:%M} UTC, months after the last sync" + \
            where + "check it at the kiosk"
    else:
        yield OK, "clock", f"{now:%Y-%m-%d %H:%M} UTC"


def _service_checks(path_env: str | None, systemd_dir: Path = Path("/run/systemd/system")
                    ) -> Iterator[tuple[str, str, str]]:
    """Each of the box's units is active (``systemctl is-active``, a fixed argv)."""
    import subprocess

    systemctl = shutil.which("systemctl", path=path_env) or shutil.which(
        "systemctl", path="/usr/bin:/bin")
    if not systemctl or not systemd_dir.is_dir():
        yield WARN, "services", "not checked: systemd is not running here"
        return
    for unit in SERVICES:
        try:
            out = subprocess.run([systemctl, "is-active", f"{unit}.service"],  # noqa: S603
                                 capture_output=True, text=True, timeout=10,
                                 check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            out = str(e)
        if out == "active":
            yield OK, f"service {unit}", "active"
        else:
            yield FAIL, f"service {unit}", f"{out or 'unknown'}; fix: `systemctl restart " \
                f"{unit}`, then `journalctl -u {unit}` for why it stopped"


def _secure_origin_checks(data_dir: Path, path_env: str | None) -> Iterator[tuple[str, str, str]]:
    """The box's name and certificate (docs/secure-origin.md)."""
    from secure_origin import store

    held = store.status(data_dir)
    if held.valid:
        yield OK, "certificate", f"{held.name} until {held.not_after:%Y-%m-%d %H:%M} UTC"
    elif not held.name:
        yield OK, "certificate", "none (the region has no domain on central): plain HTTP only"
    elif held.reason == "expired":
        yield WARN, "certificate", f"{held.name} expired on {held.not_after:%Y-%m-%d %H:%M} " \
            "UTC: visitors stay on plain HTTP; fix: `espace sync now` (or a USB stick from " \
            "central) brings the renewed one"
    else:
        yield WARN, "certificate", f"{held.name}: {held.reason}; visitors stay on plain " \
            "HTTP until the sync brings it"
    if held.name and not (shutil.which("nginx", path=path_env) or shutil.which(
            "nginx", path="/usr/sbin:/sbin:/usr/bin:/bin")):
        yield WARN, "program nginx", "missing: no TLS listener; fix: apt-get install nginx-light"
