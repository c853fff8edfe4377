"""Central's numbered migrations, applied at start, each in its own transaction and
recorded in ``central_schema``. Step 1 creates the tables from the models as they were
at version 1; later steps must use SQL or frozen models, never today's classes."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from . import models


def _initial(db: peewee.Database) -> None:
    db.create_tables(models.MODELS)


def _admin_sessions(db: peewee.Database) -> None:
    # Plain SQL that SQLite and PostgreSQL both read (as the models were at this step).
    db.execute_sql("CREATE TABLE admin_session (key VARCHAR(255) NOT NULL PRIMARY KEY, "
                   "admin_id INTEGER NOT NULL REFERENCES admin (id) ON DELETE CASCADE, "
                   "created_at TIMESTAMP NOT NULL)")
    db.execute_sql("CREATE INDEX admin_session_admin_id ON admin_session (admin_id)")


def _login_failures(db: peewee.Database) -> None:
    db.execute_sql("CREATE TABLE login_failure (scope VARCHAR(255) NOT NULL, "
                   "at TIMESTAMP NOT NULL)")
    db.execute_sql("CREATE INDEX login_failure_scope ON login_failure (scope, at)")


def _secure_origin(db: peewee.Database) -> None:
    """0021: a region's domain and each box's certificate (frozen models)."""

    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Region(Base):
        name = peewee.CharField(unique=True)

    class Site(Base):
        slug = peewee.CharField(unique=True)

    class RegionDomain(Base):
        region = peewee.ForeignKeyField(Region, unique=True, on_delete="CASCADE")
        domain = peewee.CharField()
        dns_method = peewee.CharField(default="rfc2136")
        dns_server = peewee.CharField(default="")
        dns_port = peewee.IntegerField(default=53)
        dns_zone = peewee.CharField(default="")
        tsig_name = peewee.CharField(default="")
        tsig_secret = peewee.CharField(default="")
        tsig_algorithm = peewee.CharField(default="hmac-sha256")
        lexicon_provider = peewee.CharField(default="")
        lexicon_options = peewee.TextField(default="{}")
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "region_domain"

    class SiteCertificate(Base):
        site = peewee.ForeignKeyField(Site, unique=True, on_delete="CASCADE")
        name = peewee.CharField()
        csr_pem = peewee.TextField(default="")
        csr_at = peewee.DateTimeField(null=True)
        cert_pem = peewee.TextField(default="")
        not_after = peewee.DateTimeField(null=True)
        issued_at = peewee.DateTimeField(null=True)
        last_error = peewee.TextField(default="")
        last_try_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "site_certificate"

    db.create_tables([RegionDomain, SiteCertificate], safe=False)


STEPS: list[tuple[str, Callable[[peewee.Database], None]]] = [
    ("0001_initial", _initial),
    ("0014_admin_sessions", _admin_sessions),
    ("0015_login_throttle", _login_failures),
    ("0021_secure_origin", _secure_origin),
]


def migrate(db: peewee.Database) -> list[str]:
    db.execute_sql("CREATE TABLE IF NOT EXISTS central_schema (name VARCHAR(100) PRIMARY KEY)")
    done = {r[0] for r in db.execute_sql("SELECT name FROM central_schema").fetchall()}
    ran = []
    for name, step in STEPS:
        if name in done:
            continue
        with db.atomic():
            step(db)
            db.execute_sql("INSERT INTO central_schema (name) VALUES (%s)"
                           if isinstance(db, peewee.PostgresqlDatabase)
                           else "INSERT INTO central_schema (name) VALUES (?)", (name,))
        ran.append(name)
    return ran
