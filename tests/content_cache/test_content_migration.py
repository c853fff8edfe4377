"""m0004_content applies on a database made by the schema before it."""

from __future__ import annotations

import peewee

from appliance import migrations


def test_m0004_upgrades_a_database_from_the_schema_before(tmp_path):
    from appliance.db import open_database

    db = open_database(tmp_path)
    try:
        before = max(n for n, _m in migrations.available() if n < "m0004")
        migrations.migrate(db, upto=before)
        db.execute_sql("INSERT INTO box_meta (key, value) VALUES ('kept', 'yes')")
        ran = migrations.migrate(db)
        assert "m0004_content" in ran
        kept = db.execute_sql("SELECT value FROM box_meta WHERE key = 'kept'").fetchone()
        assert kept == ("yes",)
        db.execute_sql("INSERT INTO content_usage VALUES ('2026-11-28T10', 'b', 'p', 'fr', "
                       "'view', 1)")
        db.execute_sql("INSERT INTO content_download (url, name, created_at, updated_at) "
                       "VALUES ('http://x/a.zim', 'a', '', '')")
        try:
            db.execute_sql("INSERT INTO content_download (url, name, created_at, updated_at) "
                           "VALUES ('http://x/a.zim', 'a', '', '')")
            raise AssertionError("a URL is queued once")
        except peewee.IntegrityError:
            pass
        assert migrations.migrate(db) == []
    finally:
        db.close()
