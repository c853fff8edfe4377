"""The SMS migrations from the schema before them: the box's 0030 (posts and bookings
made before it are "web"; the SMS tables are new) and central's 0030_sms_channel
(existing posts are "web"), on real databases."""

from __future__ import annotations

from appliance import migrations
from appliance.db import open_database
from central import migrations as central_migrations
from tests.central.conftest import database_url, pg_base  # noqa: F401


def test_box_0030_over_a_database_with_posts_and_bookings(tmp_path):
    db = open_database(tmp_path)
    try:
        migrations.migrate(db, upto="m0025_labels")
        db.execute_sql("INSERT INTO commune (name) VALUES ('Nioro')")
        db.execute_sql(
            "INSERT INTO board_post (uuid, code, kind, commune_id, theme, body, status, "
            "created_at) VALUES ('u1', 'ABC234', 'question', 1, 'water', 'x', 'published', 't')"
        )
        assert "m0030_sms" in migrations.migrate(db)  # and any later ones
        assert db.execute_sql("SELECT channel FROM board_post").fetchall() == [("web",)]
        cols = {r[1] for r in db.execute_sql("PRAGMA table_info(programme_booking)")}
        assert "channel" in cols
        tables = {
            r[0]
            for r in db.execute_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sms_%'"
            )
        }
        assert tables == {"sms_contact", "sms_inbound", "sms_outgoing", "sms_link", "sms_booking"}
        assert migrations.migrate(db) == []
    finally:
        db.close()


def test_central_0030_over_an_existing_central(database_url, tmp_path, monkeypatch):  # noqa: F811
    from central import db as dbmod

    database = dbmod.open_database(database_url, tmp_path)
    try:
        before = [s for s in central_migrations.STEPS if s[0] < "0030"]
        monkeypatch.setattr(central_migrations, "STEPS", before)
        with database.connection_context():
            central_migrations.migrate(database)
            database.execute_sql("INSERT INTO region (name) VALUES ('Kayes')")
            database.execute_sql(
                "INSERT INTO site (slug, name, region_id, communes, public_key, "
                "enrol_code_hash, revoked, pending, last_seq, version, records, cursor, "
                "bytes_in) VALUES ('nioro', 'Espace de Nioro', 1, '', '', '', FALSE, 0, 0, "
                "'', 0, 0, 0)"
            )
            database.execute_sql(
                "INSERT INTO post (site_id, uuid, code, kind, theme, commune, body, "
                "voice_sha256, gender, age_group, status, created_at) VALUES (1, 'p1', "
                "'ABC234', 'question', 'water', 'Nioro', 'x', '', '', '', 'open', 't')"
            )
        monkeypatch.undo()
        with database.connection_context():
            assert "0030_sms_channel" in central_migrations.migrate(database)
            assert central_migrations.migrate(database) == []
            from central.models import Post

            assert Post.get().channel == "web"
    finally:
        database.close()
