"""Central's numbered migrations, applied at start, each in its own transaction and
recorded in ``central_schema``. Step 1 creates the tables from the models as they were
at version 1; later steps must use SQL or frozen models, never today's classes."""

from __future__ import annotations

import json
from collections.abc import Callable

import peewee

from . import schema_0001


def _initial(db: peewee.Database) -> None:
    schema_0001.create(db)  # the models as they were then, frozen


def _pg(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def _sql(db: peewee.Database, sql: str, params: tuple = ()) -> peewee.Database:
    """Plain SQL both databases read; ``?`` placeholders, ``SERIAL`` for an id."""
    if _pg(db):
        sql = sql.replace("?", "%s")
    else:
        sql = sql.replace("SERIAL PRIMARY KEY", "INTEGER NOT NULL PRIMARY KEY")
    return db.execute_sql(sql, params)


def _boxes(db: peewee.Database) -> None:
    """0002: a site may have several boxes over its life (SD cards die). Sequences and
    acknowledgements belong to a box: a replacement box starts at its own seq 1, where
    per-site marks had it skip everything up to the old box's mark."""
    _sql(db, "CREATE TABLE box (id SERIAL PRIMARY KEY, "
             "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
             "box_id VARCHAR(255) NOT NULL, public_key VARCHAR(255) NOT NULL, "
             "code_hash VARCHAR(255) NOT NULL DEFAULT '', enrolled_at TIMESTAMP NOT NULL, "
             "revoked BOOLEAN NOT NULL DEFAULT FALSE, last_n BIGINT NOT NULL DEFAULT 0)")
    _sql(db, "CREATE UNIQUE INDEX box_box_id ON box (box_id)")
    _sql(db, "CREATE INDEX box_site_id ON box (site_id)")
    _sql(db, "INSERT INTO box (site_id, box_id, public_key, code_hash, enrolled_at, revoked) "
             "SELECT id, box_id, public_key, enrol_code_hash, "
             "COALESCE(enrolled_at, CURRENT_TIMESTAMP), revoked FROM site "
             "WHERE box_id IS NOT NULL")
    for table in ("stream_mark", "record"):
        _sql(db, f"ALTER TABLE {table} ADD COLUMN box_ref INTEGER "  # noqa: S608
                 "REFERENCES box (id) ON DELETE CASCADE")
        _sql(db, f"UPDATE {table} SET box_ref = (SELECT box.id FROM box "  # noqa: S608
                 f"WHERE box.site_id = {table}.site_id)")
    _sql(db, "DROP INDEX stream_mark_site_id_stream")
    _sql(db, "CREATE UNIQUE INDEX stream_mark_box_ref_stream ON stream_mark (box_ref, stream)")
    _sql(db, "DROP INDEX record_site_id_seq")
    _sql(db, "CREATE UNIQUE INDEX record_box_ref_seq ON record (box_ref, seq)")


def _snapshots(db: peewee.Database) -> None:
    """0003: running totals are snapshots; keep the latest per (site, kind, subject) and
    rebuild the attendance figures that summing snapshots had inflated."""
    _sql(db, "CREATE TABLE snapshot (id SERIAL PRIMARY KEY, "
             "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
             "kind VARCHAR(255) NOT NULL, subject VARCHAR(255) NOT NULL, "
             "box_ref INTEGER NOT NULL REFERENCES box (id) ON DELETE CASCADE, "
             "seq BIGINT NOT NULL, day VARCHAR(255) NOT NULL DEFAULT '', payload TEXT NOT NULL)")
    _sql(db, "CREATE UNIQUE INDEX snapshot_site_id_kind_subject ON snapshot "
             "(site_id, kind, subject)")
    latest: dict[tuple[int, str], tuple] = {}
    rows = _sql(db, "SELECT site_id, box_ref, seq, created_at, payload FROM record "
                    "WHERE kind = 'attendance.counts' AND box_ref IS NOT NULL "
                    "ORDER BY box_ref, seq").fetchall()
    for site_id, box_ref, seq, created_at, payload in rows:
        try:
            data = json.loads(payload)
            subject = str(data["session"])
        except (ValueError, KeyError, TypeError):
            continue
        day = str(data.get("day") or created_at)[:10]
        latest[(site_id, subject)] = (box_ref, seq, day, payload)
    for (site_id, subject), (box_ref, seq, day, payload) in sorted(latest.items()):
        _sql(db, "INSERT INTO snapshot (site_id, kind, subject, box_ref, seq, day, payload) "
                 "VALUES (?, 'attendance.counts', ?, ?, ?, ?, ?)",
             (site_id, subject, box_ref, seq, day, payload))
    _sql(db, "DELETE FROM usage_day WHERE metric = 'attendance'")
    totals: dict[tuple[int, str], list[int]] = {}
    for (site_id, _subject), (_b, _s, day, payload) in latest.items():
        data = json.loads(payload)
        acc = totals.setdefault((site_id, day), [0, 0, 0])
        for i, name in enumerate(("present", "women", "youth")):
            acc[i] += int(data.get(name, 0) or 0)
    for (site_id, day), (count, women, youth) in sorted(totals.items()):
        _sql(db, "INSERT INTO usage_day (site_id, day, metric, count, women, youth) "
                 "VALUES (?, ?, 'attendance', ?, ?, ?)", (site_id, day, count, women, youth))


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


def _labels(db: peewee.Database) -> None:
    # Spoken labels recorded at the boxes (appliance/labels), shared with their region.
    db.execute_sql("CREATE TABLE label (id INTEGER PRIMARY KEY"
                   + (" GENERATED BY DEFAULT AS IDENTITY" if isinstance(
                       db, peewee.PostgresqlDatabase) else "") +
                   ", uuid VARCHAR(64) NOT NULL UNIQUE, "
                   "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
                   "key TEXT NOT NULL, lang VARCHAR(16) NOT NULL, text TEXT NOT NULL, "
                   "clip_sha256 VARCHAR(64) NOT NULL, clip_mime VARCHAR(64) NOT NULL, "
                   "clip_seconds REAL, created_at VARCHAR(40) NOT NULL)")
    db.execute_sql("CREATE INDEX label_site ON label (site_id)")


def _sms_channel(db: peewee.Database) -> None:
    # How a post came: "web" or "sms" (issue 16): the board marks SMS posts.
    db.execute_sql("ALTER TABLE post ADD COLUMN channel VARCHAR(16) NOT NULL DEFAULT 'web'")


def _surveys(db: peewee.Database) -> None:
    """0035: survey forms published, submissions and attachments boxes send."""
    _sql(db, "CREATE TABLE survey_form (id SERIAL PRIMARY KEY, form_id VARCHAR(255) NOT NULL, "
             "version VARCHAR(255) NOT NULL, title VARCHAR(255) NOT NULL, xml TEXT NOT NULL, "
             "region_id INTEGER REFERENCES region (id) ON DELETE CASCADE, "
             "published_at TIMESTAMP NOT NULL)")
    _sql(db, "CREATE UNIQUE INDEX survey_form_form_id_version ON survey_form (form_id, version)")
    _sql(db, "CREATE TABLE survey_submission (id SERIAL PRIMARY KEY, "
             "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
             "instance_id VARCHAR(255) NOT NULL, form_id VARCHAR(255) NOT NULL, "
             "version VARCHAR(255) NOT NULL, xml TEXT NOT NULL, "
             "enumerator VARCHAR(255) NOT NULL DEFAULT '', received_at VARCHAR(255) NOT NULL)")
    _sql(db, "CREATE UNIQUE INDEX survey_submission_site_id_instance_id "
             "ON survey_submission (site_id, instance_id)")
    _sql(db, "CREATE INDEX survey_submission_form_id ON survey_submission (form_id)")
    _sql(db, "CREATE TABLE survey_attachment (id SERIAL PRIMARY KEY, "
             "site_id INTEGER NOT NULL REFERENCES site (id) ON DELETE CASCADE, "
             "instance_id VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL, "
             "sha256 VARCHAR(255) NOT NULL, mime VARCHAR(255) NOT NULL, size BIGINT NOT NULL)")
    _sql(db, "CREATE UNIQUE INDEX survey_attachment_site_id_instance_id_name "
             "ON survey_attachment (site_id, instance_id, name)")


def _directory(db: peewee.Database) -> None:
    # The region's directory of organisations and services (central/directory.py).
    from .directory import create_table

    create_table(db)


def _survey_forwarding(db: peewee.Database) -> None:
    """0036: which submissions each ODK Central / KoboToolbox target has acknowledged."""
    _sql(db, "CREATE TABLE survey_forwarded (id SERIAL PRIMARY KEY, "
             "target VARCHAR(1000) NOT NULL, site_id INTEGER NOT NULL REFERENCES site (id) "
             "ON DELETE CASCADE, instance_id VARCHAR(255) NOT NULL, status INTEGER NOT NULL)")
    _sql(db, "CREATE UNIQUE INDEX survey_forwarded_target_site_instance "
             "ON survey_forwarded (target, site_id, instance_id)")


def _survey_forward_targets(db: peewee.Database) -> None:
    """0065: each region's ODK Central / KoboToolbox server and its token."""
    from .surveys_targets import create_table

    create_table(db)


def _admin_language(db: peewee.Database) -> None:
    """0041: each admin's language for central's pages (French unless they choose)."""
    _sql(db, "ALTER TABLE admin ADD COLUMN language VARCHAR(16) NOT NULL DEFAULT 'fr'")


def _site_health(db: peewee.Database) -> None:
    """0051: what a regional admin needs to call a site (issue 15): the box's last sync
    error (it reports it when the link comes back), central's own last refusal of it
    (revoked, bad signature, replay) and how far the box's clock is from central's."""
    for column in ("last_error TEXT NOT NULL DEFAULT ''", "last_error_since VARCHAR(40) "
                   "NOT NULL DEFAULT ''", "refusal TEXT NOT NULL DEFAULT ''",
                   "refusal_at TIMESTAMP", "clock_offset BIGINT", "clock_at TIMESTAMP"):
        _sql(db, f"ALTER TABLE site ADD COLUMN {column}")
def _answer_voice(db: peewee.Database) -> None:
    """0046: an answer's voice (issue 15: a voice answer recorded at the kiosk arrived
    as an empty text). Answers already stored get theirs back from their records."""
    _sql(db, "ALTER TABLE answer ADD COLUMN voice_sha256 VARCHAR(64) NOT NULL DEFAULT ''")
    _sql(db, "ALTER TABLE answer ADD COLUMN voice_mime VARCHAR(64) NOT NULL DEFAULT ''")
    _sql(db, "ALTER TABLE answer ADD COLUMN voice_seconds REAL")
    _sql(db, "ALTER TABLE answer ADD COLUMN voice_bytes BIGINT NOT NULL DEFAULT 0")
    rows = _sql(db, "SELECT payload FROM record WHERE kind = 'answer.created' "
                    "ORDER BY id").fetchall()
    for (payload,) in rows:
        try:
            data = json.loads(payload)
            sha, ans_uuid = str(data.get("voice_sha256") or ""), str(data["uuid"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            continue
        seconds = data.get("voice_seconds")
        _sql(db, "UPDATE answer SET voice_sha256 = ?, voice_mime = ?, voice_seconds = ?, "
                 "voice_bytes = ? WHERE uuid = ? AND source = 'box'",
             (sha, str(data.get("voice_mime") or "")[:64],
              float(seconds) if isinstance(seconds, int | float) else None,
              int(data.get("voice_bytes") or 0) if isinstance(data.get("voice_bytes"), int)
              else 0, ans_uuid[:64]))


def _post_forwards(db: peewee.Database) -> None:
    """0047: a post sent on to an official of its site or a service (issue 15)."""
    _sql(db, "CREATE TABLE post_forward (id SERIAL PRIMARY KEY, "
             "post_id INTEGER NOT NULL REFERENCES post (id) ON DELETE CASCADE, "
             "uuid VARCHAR(64) NOT NULL, to_kind VARCHAR(16) NOT NULL, "
             "to_name VARCHAR(120) NOT NULL, to_role VARCHAR(120) NOT NULL DEFAULT '', "
             "note TEXT NOT NULL DEFAULT '', "
             "admin_id INTEGER REFERENCES admin (id) ON DELETE SET NULL, "
             "created_at TIMESTAMP NOT NULL)")
    _sql(db, "CREATE UNIQUE INDEX post_forward_uuid ON post_forward (uuid)")
    _sql(db, "CREATE INDEX post_forward_post_id ON post_forward (post_id)")


def _coaching(db: peewee.Database) -> None:
    # 0055: learners' work, trainers' groups and answers (central/coaching.py).
    from .coaching import create_tables

    create_tables(db)


STEPS: list[tuple[str, Callable[[peewee.Database], None]]] = [
    ("0001_initial", _initial),
    ("0002_boxes", _boxes),
    ("0003_snapshots", _snapshots),
    ("0014_admin_sessions", _admin_sessions),
    ("0015_login_throttle", _login_failures),
    ("0021_secure_origin", _secure_origin),
    ("0025_labels", _labels),
    ("0030_sms_channel", _sms_channel),
    ("0035_surveys", _surveys),
    ("0036_survey_forwarding", _survey_forwarding),
    ("0040_directory", _directory),
    ("0041_admin_language", _admin_language),
    ("0046_answer_voice", _answer_voice),
    ("0047_post_forwards", _post_forwards),
    ("0051_site_health", _site_health),
    ("0055_coaching", _coaching),
    ("0065_survey_forward_targets", _survey_forward_targets),
]


def migrate(db: peewee.Database, steps=None, upto: str | None = None) -> list[str]:
    """Apply central's pending steps with the runner the box uses too."""
    from sync_contract.migrate import UnknownStep
    from sync_contract.migrate import migrate as run

    try:
        return run(db, STEPS if steps is None else steps, "central_schema", upto=upto,
                   stamped=False)
    except UnknownStep as e:
        raise RuntimeError(f"{e}: install the newer central again, or restore a backup") \
            from None
