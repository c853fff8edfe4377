"""Visits: phones that tap Enter are counted once a day; only the daily count leaves."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from appliance.db import database
from appliance.models import OutboxEvent
from captive_portal import visits
from provisioning.allowlist import MemoryBackend

WELCOME = "http://10.42.0.1/welcome"
PHONES = {"10.42.0.23": "c2:c4:ab:91:66:01", "10.42.0.24": "c2:c4:ab:91:66:02"}


@pytest.fixture
def app(site_doc, tmp_path):
    from appliance import create_app

    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net/arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        + "".join(f"{ip}      0x1         0x2         {mac}     *        wlan0\n"
                  for ip, mac in PHONES.items()))
    app = create_app({"SITE": site_doc, "SITE_DIR": tmp_path, "TESTING": True,
                      "SECRET_KEY": "test", "ALLOWLIST": MemoryBackend("10.42.0.0/24"),
                      "PROC_ROOT": str(proc)})
    try:
        yield app
    finally:
        database.close()


def test_each_phone_counts_once_a_day_and_only_the_count_leaves(app):
    client = app.test_client()
    for ip in (*PHONES, "10.42.0.23"):  # the first phone enters twice
        r = client.post(WELCOME, environ_base={"REMOTE_ADDR": ip})
        assert r.status_code == 303
    # A laptop on the LAN (the technician, the kiosk) is not a visit.
    client.post("http://192.168.1.5/welcome", environ_base={"REMOTE_ADDR": "192.168.1.20"})
    with app.app_context():
        database.connect(reuse_if_open=True)
        rows = database.execute_sql("SELECT day, who FROM portal_visit").fetchall()
        assert len(rows) == 2
        stored = json.dumps(rows)
        assert not any(x in stored for x in (*PHONES, *PHONES.values()))
        assert visits.rollup() == 0  # today is not over
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert visits.rollup(tomorrow) == 1
        ev = OutboxEvent.get(OutboxEvent.kind == "usage.visits")
        payload = json.loads(ev.payload) if isinstance(ev.payload, str) else ev.payload
        assert payload == {"day": rows[0][0], "visits": 2}
        assert ev.stream == "usage"
        assert database.execute_sql("SELECT COUNT(*) FROM portal_visit").fetchone()[0] == 0
        assert visits.rollup(tomorrow) == 0  # idempotent


def test_a_broken_database_never_keeps_a_visitor_out(app, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(visits, "client_hash", boom)
    r = app.test_client().post(WELCOME, environ_base={"REMOTE_ADDR": "10.42.0.23"})
    assert r.status_code == 303


def test_visits_migration_from_the_schema_before(tmp_path):
    from appliance import db as dbmod
    from appliance import migrations

    d = dbmod.open_database(tmp_path)
    try:
        migrations.migrate(d, upto="m0005_sync")
        d.execute_sql("INSERT INTO box_meta (key, value) VALUES ('kept', '1')")
        assert "m0006_portal_visits" in migrations.migrate(d)
        d.execute_sql("INSERT INTO portal_visit VALUES ('2026-11-28', 'abc')")
        assert d.execute_sql("SELECT value FROM box_meta WHERE key='kept'").fetchone() == ("1",)
    finally:
        d.close()
