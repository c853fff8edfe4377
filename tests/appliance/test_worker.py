"""The worker registers every job and runs them inside the app."""

import datetime as dt

from appliance import worker
from appliance.models import Meta
from appliance.privacy import client_hash
from espace import worker as espace_worker
from espace.registry import Job


def test_every_job_is_registered_with_its_trigger(app):
    scheduler = espace_worker.build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {j.id for j in espace_worker.jobs(app)}
    assert {"sync", "usage_rollup", "visits_rollup", "content_download", "cleanup",
            "sweep"} <= set(jobs)
    for job in jobs.values():
        assert job.coalesce and job.max_instances == 1


def test_scheduler_starts_and_stops_cleanly(app):
    scheduler = espace_worker.build_scheduler(app)
    scheduler.start()
    assert scheduler.running
    scheduler.shutdown(wait=True)
    assert not scheduler.running


def test_cleanup_forgets_old_day_salts(app, db):
    with app.test_request_context():
        today_hash = client_hash("10.42.0.23", scope="day", proc="/nonexistent")
        box_hash = client_hash("10.42.0.23", scope="box", proc="/nonexistent")
    Meta.set_value("salt:day:2026-01-01", "00" * 32)
    result = worker.cleanup_job(app)
    assert "forgot 1" in result
    keys = {m.key for m in Meta.select()}
    assert "salt:day:2026-01-01" not in keys
    assert "salt:day:" + dt.date.today().isoformat() in keys and "salt:box" in keys
    with app.test_request_context():
        assert client_hash("10.42.0.23", scope="day", proc="/nonexistent") == today_hash
        assert client_hash("10.42.0.23", scope="box", proc="/nonexistent") == box_hash
    assert len(today_hash) == 16 and today_hash != box_hash


def test_a_failing_job_does_not_stop_the_worker(app, caplog, monkeypatch):
    failing = Job("boom", lambda app: 1 / 0, "interval", {"minutes": 1}, "fails")
    espace_worker._runner(app, failing)()  # logs, does not raise
    assert "boom failed" in caplog.text


def test_client_hash_uses_the_mac_from_the_arp_table(app, db, tmp_path):
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.42.0.23       0x1         0x2         AA:BB:CC:00:11:22     *        wlan0\n")
    from appliance.privacy import mac_for_ip

    assert mac_for_ip("10.42.0.23", proc) == "aa:bb:cc:00:11:22"
    assert mac_for_ip("10.42.0.99", proc) is None
    # The same phone keeps its hash when DHCP gives it another address.
    first = client_hash("10.42.0.23", "box", proc)
    (proc / "net" / "arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "10.42.0.57       0x1         0x2         aa:bb:cc:00:11:22     *        wlan0\n")
    assert client_hash("10.42.0.57", "box", proc) == first
    assert "aa:bb" not in first and "10.42" not in first
