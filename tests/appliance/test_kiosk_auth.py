"""Facilitator login: PIN lockout (surviving a restart, bounded if the clock jumps),
idle logout, safe redirects; the clock warning and the clock-setting command."""

from __future__ import annotations

import datetime as dt
import stat
import sys

import pytest

from appliance.kiosk import auth, clock
from appliance.pins import hash_pin
from tests.support import csrf, make_site

PIN = "4821"


@pytest.fixture(scope="module")
def pin_hash():
    return hash_pin(PIN)


@pytest.fixture
def site_doc(tmp_path, pin_hash):
    return make_site(tmp_path, kiosk={
        "facilitators": [{"name": "Awa", "pin_hash": pin_hash},
                         {"name": "Ibrahima", "pin_hash": pin_hash}],
        "max_pin_attempts": 3, "lockout_minutes": 5, "idle_logout_seconds": 60})


@pytest.fixture
def clock_now(monkeypatch):
    """The kiosk's notion of time, moved by the test (never slept)."""
    now = {"t": 1_800_000_000.0}
    monkeypatch.setattr(auth, "_now", lambda: now["t"])
    return now


def login(client, pin, name="Awa", next_="/kiosk/"):
    return client.post(f"/kiosk/login?next={next_}",
                       data={"name": name, "pin": pin, "csrf": csrf(client)})


def test_pages_need_a_facilitator(client):
    for path in ("/kiosk/", "/kiosk/week", "/kiosk/sessions/new", "/kiosk/health",
                 "/kiosk/clock"):
        r = client.get(path)
        assert r.status_code == 302 and r.location.startswith("/kiosk/login"), path
    assert client.post("/kiosk/checkin", data={"code": "123456"}).status_code == 302


def test_login_then_logout(client, clock_now):
    assert login(client, PIN).location == "/kiosk/"
    page = client.get("/kiosk/")
    assert page.status_code == 200 and b"Awa" in page.data
    client.post("/kiosk/logout", data={"csrf": csrf(client)})
    assert client.get("/kiosk/").status_code == 302


def test_lockout_after_repeated_wrong_pins(client, app, clock_now):
    for _ in range(2):
        r = login(client, "0000")
        assert r.status_code == 403 and b"Wrong PIN" in r.data
    r = login(client, "0000")
    assert b"locked" in r.data
    # Even the right PIN is refused while locked, and by another facilitator too.
    assert b"locked" in login(client, PIN).data
    assert b"locked" in login(client, PIN, name="Ibrahima").data
    assert client.get("/kiosk/").status_code == 302
    # The lockout is in the database: a restarted app is still locked.
    with app.test_request_context():
        assert 0 < auth.locked_for() <= 300
    clock_now["t"] += 299
    assert b"locked" in login(client, PIN).data
    clock_now["t"] += 2
    assert login(client, PIN).status_code == 303


def test_lockout_never_outlasts_its_length_when_the_clock_jumps_back(client, app, clock_now):
    for _ in range(3):
        login(client, "0000")
    clock_now["t"] -= 10 * 365 * 24 * 3600  # the Pi woke up in the past
    with app.test_request_context():
        assert auth.locked_for() == 300


def test_a_good_pin_resets_the_count(client, clock_now):
    login(client, "0000")
    login(client, "0000")
    assert login(client, PIN).status_code == 303
    client.post("/kiosk/logout", data={"csrf": csrf(client)})
    login(client, "0000")
    login(client, "0000")
    assert login(client, PIN).status_code == 303


def test_unknown_name_is_a_wrong_pin(client, clock_now):
    assert login(client, PIN, name="Inconnu").status_code == 403


def test_idle_logout(client, clock_now):
    login(client, PIN)
    clock_now["t"] += 59
    assert client.get("/kiosk/").status_code == 200  # activity renews the session
    clock_now["t"] += 59
    assert client.get("/kiosk/week").status_code == 200
    clock_now["t"] += 61
    assert client.get("/kiosk/").status_code == 302


def test_redirect_after_login_stays_in_the_kiosk(client, clock_now):
    assert login(client, PIN, next_="//evil.example/").location == "/kiosk/"
    client.post("/kiosk/logout", data={"csrf": csrf(client)})
    assert login(client, PIN, next_="/kiosk/week").location == "/kiosk/week"


# -- the clock ----------------------------------------------------------------------

BUILD = dt.date(2026, 11, 1)


def test_clock_problems():
    now = dt.datetime(2026, 11, 28, 12)
    assert clock.problems(now, BUILD, None) == []
    assert clock.problems(dt.datetime(1970, 1, 1), BUILD, None) == ["before_build"]
    assert clock.problems(now, BUILD, now + dt.timedelta(hours=2)) == ["before_last_sync"]
    assert clock.problems(now, BUILD, now + dt.timedelta(minutes=5)) == []
    assert clock.problems(now, BUILD, now - dt.timedelta(days=200)) == ["long_after_sync"]
    assert clock.parse_iso_utc("2026-11-28T10:00:00+01:00") == dt.datetime(2026, 11, 28, 9)
    assert clock.parse_iso_utc("2026-11-28T10:00:00Z") == dt.datetime(2026, 11, 28, 10)
    assert clock.parse_iso_utc("garbage") is None


def test_kiosk_warns_when_the_clock_is_implausible(client, app, clock_now):
    from appliance.db import database
    from appliance.models import Meta

    login(client, PIN)
    assert b'class="warn"' not in client.get("/kiosk/").data
    database.connect(reuse_if_open=True)
    with database.atomic():
        Meta.set_value("sync:last_success_at", "2099-01-01T00:00:00Z")
    page = client.get("/kiosk/").data
    assert b'class="warn"' in page and b"last sync" in page
    app.config["BUILD_DATE"] = "2099-06-01"
    assert b"built" in client.get("/kiosk/health").data
    database.close()


@pytest.fixture
def fake_timedatectl(tmp_path):
    """A stand-in for timedatectl that records its argv (a real process)."""
    log = tmp_path / "argv.txt"
    script = tmp_path / "timedatectl"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open({str(log)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
                      "sys.exit(1 if 'fail' in open(__file__).name else 0)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_set_clock_runs_a_fixed_argv(fake_timedatectl):
    script, log = fake_timedatectl
    clock.set_clock(dt.datetime(2026, 11, 28, 14, 5), BUILD, command=(str(script),))
    assert log.read_text() == "['set-time', '2026-11-28 14:05:00 UTC']\n"
    with pytest.raises(clock.ClockError, match="plausible"):
        clock.set_clock(dt.datetime(2020, 1, 1), BUILD, command=(str(script),))
    with pytest.raises(clock.ClockError, match="cannot run"):
        clock.set_clock(dt.datetime(2026, 12, 1), BUILD, command=("/nonexistent/timedatectl",))


def test_set_clock_reports_a_refusal(tmp_path):
    script = tmp_path / "refuse"
    script.write_text("#!/bin/sh\necho 'Failed to set time: Automatic time synchronization "
                      "is enabled' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(clock.ClockError) as e:
        clock.set_clock(dt.datetime(2026, 12, 1), BUILD, command=(str(script),))
    assert "synchronization" in str(e.value) and "sync" in e.value.fix


def test_clock_form_sets_local_time_as_utc(client, app, clock_now, fake_timedatectl):
    script, log = fake_timedatectl
    app.config["CLOCK_COMMAND"] = (str(script),)
    login(client, PIN)
    r = client.post("/kiosk/clock", data={"year": "2026", "month": "12", "day": "3",
                                          "hour": "9", "minute": "30", "csrf": csrf(client)})
    assert r.status_code == 303
    assert "2026-12-03 09:30:00 UTC" in log.read_text()  # Bamako is UTC
    r = client.post("/kiosk/clock", data={"year": "2026", "month": "2", "day": "30",
                                          "hour": "9", "minute": "30", "csrf": csrf(client)})
    assert r.status_code == 200 and b"not a valid date" in r.data
    r = client.post("/kiosk/clock", data={"year": "2026; rm -rf /", "month": "1", "day": "1",
                                          "hour": "0", "minute": "0", "csrf": csrf(client)})
    assert b"not a valid date" in r.data
    assert log.read_text().count("\n") == 1


# -- hardening: atomic lockout, revocable sessions ------------------------------------


def test_parallel_wrong_pins_get_exactly_the_allowed_checks(app, clock_now, monkeypatch):
    """40 wrong PINs at once: only max_pin_attempts (3 here) PIN hashes are checked."""
    import threading

    checks = []
    real = auth.check_pin
    monkeypatch.setattr(auth, "check_pin", lambda h, p: checks.append(p) or real(h, p))
    start = threading.Barrier(40)
    codes = []

    def guess():
        client = app.test_client()
        start.wait()
        codes.append(login(client, "0000").status_code)
        from appliance.db import database

        database.close()

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checks) == 3 and codes == [403] * 40
    with app.test_request_context():
        assert auth.locked_for() > 0


def test_a_copied_cookie_dies_with_logout(app, client, clock_now):
    assert login(client, PIN).status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/kiosk/").status_code == 200
    client.post("/kiosk/logout", data={"csrf": csrf(client)})
    assert thief.get("/kiosk/").status_code == 302
    assert client.get("/kiosk/").status_code == 302


def test_a_pin_change_ends_the_sessions(app, client, clock_now):
    assert login(client, PIN).status_code == 303
    assert client.get("/kiosk/").status_code == 200
    awa = next(f for f in app.config["SITE"].kiosk.facilitators if f["name"] == "Awa")
    awa["pin_hash"] = hash_pin("9999")  # site.toml edited with `espace config hash-pin`
    assert client.get("/kiosk/").status_code == 302
    assert login(client, "9999").status_code == 303
    assert client.get("/kiosk/").status_code == 200


def test_a_right_pin_on_the_last_allowed_attempt_leaves_no_lock(client, app, clock_now):
    login(client, "0000")
    login(client, "0000")
    assert login(client, PIN).status_code == 303
    with app.test_request_context():
        assert auth.locked_for() == 0
