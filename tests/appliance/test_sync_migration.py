"""m0005_sync on a database made by the schema before it: a box in the field with
events already queued upgrades and then sends every one of them."""

from __future__ import annotations

from appliance import migrations, outbox
from appliance.db import database, integrity_check, open_database


def test_m0005_upgrades_a_box_with_queued_events(tmp_path):
    db = open_database(tmp_path)
    try:
        before = [n for n, _ in migrations.available() if n < "m0005_sync"][-1]
        migrations.migrate(db, upto=before)
        assert "sync_stream" not in db.get_tables()
        with database.atomic("IMMEDIATE"):
            for i in range(3):
                outbox.append("support.created", {"uuid": f"s{i}", "post_uuid": "p",
                                                  "created_at": "2026-11-20"})
        assert "m0005_sync" in migrations.migrate(db)
        from appliance.sync import state
        from appliance.sync.client import _pending_rows, pending_count

        assert state.acked() == {"civic": 0, "blob": 0, "usage": 0, "content": 0}
        assert state.cursor() == 0
        assert pending_count() == 3
        assert [r[0] for r in _pending_rows(0, 10, "civic")] == [1, 2, 3]
        assert integrity_check(db) == "ok"
        assert migrations.migrate(db) == []
    finally:
        db.close()
