"""Central's step 0021_secure_origin from the schema before it, on SQLite and PostgreSQL:
existing regions and sites stay, the new tables take a domain and a certificate row."""

from __future__ import annotations

from central import migrations


def test_0021_applies_over_an_existing_central(database_url, tmp_path, monkeypatch):
    from central import db as dbmod

    database = dbmod.open_database(database_url, tmp_path)
    try:
        before = [s for s in migrations.STEPS if s[0] < "0021"]
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
            assert "0021_secure_origin" in migrations.migrate(database)
            assert migrations.migrate(database) == []  # once
            from central.models import Region, Site
            from central.tls_models import RegionDomain, SiteCertificate

            region = Region.get(Region.name == "Kayes")
            RegionDomain.create(region=region, domain="espaces.kayes.ml", dns_server="ns1")
            SiteCertificate.create(site=Site.get(Site.slug == "nioro"),
                                   name="nioro.espaces.kayes.ml")
            assert SiteCertificate.get().site.region.name == "Kayes"
    finally:
        database.close()
