"""The first schema: box identity, the outbox, communes, officials, sessions."""

import uuid


def up(db):
    for sql in (
        "CREATE TABLE box_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # AUTOINCREMENT: sequence numbers are never reused, even after pruning.
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            uuid TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            stream TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX outbox_stream ON outbox (stream, seq)",
        "CREATE TABLE commune (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        """CREATE TABLE official (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT '',
            commune_id INTEGER NOT NULL REFERENCES commune (id) ON DELETE RESTRICT,
            gender TEXT NOT NULL DEFAULT '' CHECK (gender IN ('', 'f', 'm')),
            photo_sha256 TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX official_commune ON official (commune_id)",
        """CREATE TABLE programme_session (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            kind TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            facilitator TEXT NOT NULL DEFAULT '',
            starts_at DATETIME NOT NULL,
            duration_min INTEGER NOT NULL CHECK (duration_min > 0),
            room TEXT NOT NULL DEFAULT '',
            capacity INTEGER NOT NULL CHECK (capacity >= 0),
            reserved_women INTEGER NOT NULL DEFAULT 0,
            reserved_youth INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX programme_session_start ON programme_session (starts_at)",
    ):
        db.execute_sql(sql)
    db.execute_sql("INSERT INTO box_meta VALUES ('box_id', ?)", (str(uuid.uuid4()),))
