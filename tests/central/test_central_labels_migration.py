"""Central's step 0025_labels from the schema before it, on SQLite and PostgreSQL: an
existing site keeps its rows and its boxes' labels are kept once each."""

from __future__ import annotations

import pytest

from central import migrations


def test_0025_applies_over_an_existing_central(database_url, tmp_path, monkeypatch):
    from central import db as dbmod

    database = dbmod.open_database(database_url, tmp_path)
    try:
        before = [s for s in migrations.STEPS if s[0] < "0025"]
        monkeypatch.setattr(migrations, "STEPS", before)
        with database.connection_context():
            migrations.migrate(database)
            database.execute_sql("INSERT INTO region (name) VALUES ('Kayes')")
            database.execute_sql(
                "INSERT INTO site (slug, name, region_id, communes, public_key, enrol_code_hash,"
                " revoked, pending, last_seq, version, records, cursor, bytes_in) VALUES "
                "('nioro', 'Espace de Nioro', 1, '', '', '', FALSE, 0, 0, '', 0, 0, 0)")
        monkeypatch.undo()
        with database.connection_context():
            assert "0025_labels" in migrations.migrate(database)  # and any later steps
            assert migrations.migrate(database) == []
            from central.labels import Label, receive
            from central.models import DownEvent, Site

            site = Site.get(Site.slug == "nioro")
            payload = {"uuid": "l-1", "key": "msg:Learn", "lang": "snk", "text": "Xaranŋe",
                       "created_at": "2026-11-30T08:00:00Z"}
            assert receive(site, payload) == ""
            assert receive(site, payload) == ""  # the same record again: kept once
            assert Label.select().count() == 1 and DownEvent.select().count() == 1
            assert "not at central" in receive(site, {**payload, "uuid": "l-2",
                                                       "clip_sha256": "a" * 64})
            assert "out of bounds" in receive(site, {**payload, "uuid": "l-3",
                                                      "key": "x" * 400})
            with pytest.raises(Exception):  # noqa: B017 - the unique uuid holds
                Label.create(uuid="l-1", site=site, key="k", lang="bm", text="",
                             clip_sha256="", clip_mime="", created_at="x")
    finally:
        database.close()
