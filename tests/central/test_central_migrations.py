"""Central's migrations (one runner with the box's): a contributor adds a column to a
model and a step that adds it; a fresh database and one made by an older version both
migrate, on SQLite and on PostgreSQL. Step 0001 used to create tables from today's
models, so the new step broke every fresh central ("duplicate column name")."""

from __future__ import annotations

import peewee
import pytest

from central import migrations, models
from central.db import open_database


def _add_motto(db: peewee.Database) -> None:
    db.execute_sql("ALTER TABLE site ADD COLUMN motto VARCHAR(80) NOT NULL DEFAULT ''")


@pytest.fixture
def motto_on_the_model():
    """Today's model has the new column, as in the contributor's commit."""
    field = peewee.CharField(default="")
    models.Site._meta.add_field("motto", field)
    try:
        yield
    finally:
        models.Site._meta.remove_field("motto")


def _columns(db, table: str) -> set[str]:
    return {c.name for c in db.get_columns(table)}


def test_a_new_column_migrates_fresh_and_old_databases(tmp_path, database_url,
                                                       motto_on_the_model):
    steps = [*migrations.STEPS, ("9990_site_motto", _add_motto)]
    db = open_database(database_url, tmp_path)
    try:
        # An old central: the steps it knew, and a site in it.
        migrations.migrate(db, migrations.STEPS)
        region = models.Region.create(name="Kayes")
        # Not through today's model: it has a column this database lacks yet.
        db.execute_sql(
            "INSERT INTO site (slug, name, region_id, communes, public_key, enrol_code_hash, "
            "revoked, pending, last_seq, version, records, cursor, bytes_in) VALUES "
            f"('nioro', 'Nioro', {int(region.id)}, '', '', '', "
            f"{'FALSE' if database_url.startswith('postgres') else '0'}, 0, 0, '', 0, 0, 0)")
        assert migrations.migrate(db, steps) == ["9990_site_motto"]
        assert "motto" in _columns(db, "site")
        assert models.Site.get(models.Site.slug == "nioro").motto == ""
        assert migrations.migrate(db, steps) == []  # idempotent
    finally:
        db.close()
    fresh_url = (database_url.replace("central.sqlite3", "fresh.sqlite3")
                 if database_url.startswith("sqlite") else None)
    if fresh_url is None:  # PostgreSQL: a second database of the same cluster
        from tests.central.harness import new_pg_database

        fresh_url = new_pg_database(database_url.rsplit("/", 1)[0])
    db = open_database(fresh_url, tmp_path)
    try:
        ran = migrations.migrate(db, steps)
        assert ran == [name for name, _ in sorted(steps)]
        assert "motto" in _columns(db, "site")
    finally:
        db.close()


def test_a_database_from_a_newer_version_is_refused(tmp_path, database_url):
    db = open_database(database_url, tmp_path)
    try:
        migrations.migrate(db, [*migrations.STEPS, ("9991_future", lambda _db: None)])
        with pytest.raises(RuntimeError, match="9991_future"):
            migrations.migrate(db)
    finally:
        db.close()
