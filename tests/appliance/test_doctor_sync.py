"""`espace doctor` checks enrolment, the sync (the last error and since when), the
clock and the box's services (issue 15), on a real database and real processes."""

from __future__ import annotations

import datetime as dt
import os

from appliance import db as dbmod
from appliance import doctor, migrations
from tests.appliance.test_cli import espace, write_site


def _box(tmp_path):
    site = write_site(tmp_path)
    (tmp_path / "data").mkdir()
    database = dbmod.open_database(tmp_path / "data")
    migrations.migrate(database)
    return site, database


def _lines(site):
    r = espace("doctor", "--site", str(site))
    return r, r.stdout.splitlines()


def test_doctor_says_not_enrolled_then_failing_then_revoked(tmp_path):
    from appliance.models import Meta
    from appliance.sync import state

    site, database = _box(tmp_path)
    r, lines = _lines(site)
    assert any(x.startswith("WARN enrolment: not enrolled") for x in lines), r.stdout
    assert any(x.startswith("OK   clock:") for x in lines), r.stdout

    Meta.set_value("sync:central_url", "https://central.example")
    Meta.set_value("sync:central_key", "k")
    Meta.set_value("sync:last_success_at", "2026-11-29T08:00:00Z")
    state.SyncRun.create(started_at="2026-11-29T08:00:00Z", finished_at="2026-11-29T08:00:05Z",
                         result="done")
    state.SyncRun.create(started_at="2026-11-29T20:00:00Z", finished_at="2026-11-29T20:00:30Z",
                         result="stopped: central unreachable: timed out")
    database.close()
    r, lines = _lines(site)
    assert any(x.startswith("OK   enrolment") for x in lines)
    sync = [x for x in lines if x.startswith("WARN sync:")]
    assert sync and "since 2026-11-29T20:00:00Z" in sync[0] and "timed out" in sync[0]
    assert "fix:" in sync[0]

    database = dbmod.open_database(tmp_path / "data")
    state.SyncRun.create(started_at="2026-11-29T21:00:00Z", finished_at="2026-11-29T21:00:01Z",
                         result="stopped: central answered 403: unknown or revoked box")
    database.close()
    r, lines = _lines(site)
    assert r.returncode != 0
    assert any(x.startswith("FAIL sync: central refuses this box") and "new code" in x
               for x in lines), r.stdout


def test_doctor_fails_on_a_clock_before_the_last_sync(tmp_path):
    from appliance.models import Meta

    site, database = _box(tmp_path)
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    Meta.set_value("sync:central_url", "https://central.example")
    Meta.set_value("sync:central_key", "k")
    Meta.set_value("sync:last_success_at", future)
    database.close()
    r, lines = _lines(site)
    assert any(x.startswith("FAIL clock:") and "before the last sync" in x for x in lines), \
        r.stdout


def test_services_through_systemctl(tmp_path):
    """A stand-in systemctl (a real process): one unit active, one failed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text('#!/bin/sh\ncase "$2" in espace-worker.service) echo failed;;\n'
                      '*) echo active;; esac\n')
    os.chmod(script, 0o755)
    systemd = tmp_path / "run-systemd"
    assert [c[0] for c in doctor._service_checks(str(bin_dir), systemd)] == [doctor.WARN]
    systemd.mkdir()
    out = {name: (level, detail) for level, name, detail in
           doctor._service_checks(str(bin_dir), systemd)}
    assert out["service espace-web"][0] == doctor.OK
    level, detail = out["service espace-worker"]
    assert level == doctor.FAIL and "failed" in detail and "journalctl -u espace-worker" in detail
