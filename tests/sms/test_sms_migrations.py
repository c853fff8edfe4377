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
        assert tables == {
            "sms_contact",
            "sms_inbound",
            "sms_outgoing",
            "sms_link",
            "sms_booking",
            "sms_answered",  # 0085
            "sms_answer_told",  # 0087
        }
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


def test_box_0085_marks_answers_already_on_the_box_but_the_ones_sms_missed(tmp_path):
    """0085 marks every answer already on the box as dealt with (an upgrade sends no old
    answer again) except a recent one to a post an SMS number asked (or to a post a
    number's duplicate was merged into) that no answer SMS was ever queued for: the ones
    the old answer listener missed when `espace sync now` or `import` applied them."""
    import datetime as dt

    db = open_database(tmp_path)
    try:
        migrations.migrate(db, upto="m0070_survey_web")
        sql = db.execute_sql
        recent = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        sql("INSERT INTO commune (name) VALUES ('Nioro')")
        sql(
            "INSERT INTO sms_contact (number, number_hash, created_at, last_seen_at) "
            "VALUES ('+22376000081', 'h1', 't', 't')"
        )
        posts = {
            # code: (merged into, SMS-linked, answer created, an answer SMS queued)
            "SENT22": (None, True, recent, True),  # the listener sent it
            "WEB222": (None, False, recent, False),  # nobody asked by SMS
            "OLD222": (None, True, "2025-01-01T00:00:00Z", False),  # too old to send now
            "MISS22": (None, True, recent, False),  # missed: sent after the upgrade
            "INTO22": (None, False, recent, False),  # a missed duplicate was merged in
            "DUP222": ("INTO22", True, None, False),
        }
        for i, (code, (into, linked, answered, queued)) in enumerate(posts.items(), 1):
            merged = f"(SELECT id FROM board_post WHERE code = '{into}')" if into else "NULL"
            sql(
                "INSERT INTO board_post (uuid, code, kind, commune_id, theme, body, status, "
                f"created_at, merged_into_id) VALUES ('p{i}', '{code}', 'question', 1, "
                f"'water', 'x', '{'merged' if into else 'published'}', 't', {merged})"
            )
            if linked:
                sql(
                    "INSERT INTO sms_link (contact_id, post_id, role, created_at) "
                    f"VALUES (1, {i}, 'asker', 't')"
                )
            if answered:
                sql(
                    "INSERT INTO board_answer (uuid, post_id, official_name, body, source, "
                    f"created_at) VALUES ('a{i}', {i}, 'Maire', 'Oui.', 'central', "
                    f"'{answered}')"
                )
            if queued:
                sql(
                    "INSERT INTO sms_outgoing (number, number_hash, text, encoding, purpose, "
                    f"ref, created_at) VALUES ('', 'h1', 'x', 'gsm7', 'answer', '{code}', 't')"
                )
        assert "m0085_sms_answered" in migrations.migrate(db)
        marked = sql(
            "SELECT p.code FROM sms_answered s JOIN board_answer a ON a.id = s.answer_id "
            "JOIN board_post p ON p.id = a.post_id ORDER BY p.code"
        ).fetchall()
        assert [c for (c,) in marked] == ["OLD222", "SENT22", "WEB222"]
        assert migrations.migrate(db) == []
    finally:
        db.close()


def test_box_0087_counts_who_got_the_answers_already_dealt_with(tmp_path):
    """0087 records (answer, number) for the answers already sent: a number an answer SMS
    about the post was queued for (by contact or, once forgotten, by hash), and every
    number of an answer older than 30 days. A number linked after the answer went out
    (a late supporter) is left, so the worker's job sends it the answer; an answer not
    dealt with yet is left to the answer's round."""
    import datetime as dt

    db = open_database(tmp_path)
    try:
        migrations.migrate(db, upto="m0085_sms_answered")
        sql = db.execute_sql
        recent = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        sql("INSERT INTO commune (name) VALUES ('Nioro')")
        for n in (1, 2, 3):
            sql(
                "INSERT INTO sms_contact (number, number_hash, created_at, last_seen_at) "
                f"VALUES ('+2237600008{n}', 'h{n}', 't', 't')"
            )
        posts = {
            # code: (merged into, linked contacts, answer created, marked, SMS to (id, hash))
            "SENT22": (None, [1, 2], recent, True, [(1, "")]),  # 2 supported later
            "OLD222": (None, [1], "2025-01-01T00:00:00Z", True, []),
            "MISS22": (None, [1], recent, False, []),  # the answer's round sends it
            "INTO22": (None, [], recent, True, [(None, "h3")]),
            "DUP222": ("INTO22", [3], None, False, []),
        }
        for i, (code, (into, linked, answered, marked, sms)) in enumerate(posts.items(), 1):
            merged = f"(SELECT id FROM board_post WHERE code = '{into}')" if into else "NULL"
            sql(
                "INSERT INTO board_post (uuid, code, kind, commune_id, theme, body, status, "
                f"created_at, merged_into_id) VALUES ('p{i}', '{code}', 'question', 1, "
                f"'water', 'x', '{'merged' if into else 'published'}', 't', {merged})"
            )
            for c in linked:
                sql(
                    "INSERT INTO sms_link (contact_id, post_id, role, created_at) "
                    f"VALUES ({c}, {i}, 'supporter', 't')"
                )
            if answered:
                sql(
                    "INSERT INTO board_answer (id, uuid, post_id, official_name, body, source, "
                    f"created_at) VALUES ({i}, 'a{i}', {i}, 'Maire', 'Oui.', 'central', "
                    f"'{answered}')"
                )
            if marked:
                sql(f"INSERT INTO sms_answered (answer_id, handled_at) VALUES ({i}, 't')")
            for contact, number_hash in sms:
                sql(
                    "INSERT INTO sms_outgoing (contact_id, number, number_hash, text, encoding, "
                    "purpose, ref, created_at) VALUES (?, '', ?, 'x', 'gsm7', 'answer', ?, 't')",
                    (contact, number_hash or f"h{contact}", code),
                )
        assert "m0087_sms_answer_told" in migrations.migrate(db)
        told = sql(
            "SELECT p.code, t.contact_id FROM sms_answer_told t "
            "JOIN board_answer a ON a.id = t.answer_id JOIN board_post p ON p.id = a.post_id "
            "ORDER BY p.code, t.contact_id"
        ).fetchall()
        assert told == [("INTO22", 3), ("OLD222", 1), ("SENT22", 1)]
        assert migrations.migrate(db) == []
    finally:
        db.close()
