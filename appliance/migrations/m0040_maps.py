"""The commune's directory (maps/, issue 18): organisations and public services with
their point (``map_place``: this box's own, published at the kiosk, and the region's,
shared by central), and citizens' proposals of a new entry or a correction waiting for
moderation (``map_proposal``). Who proposed is a box-salted hash, never sent."""


def up(db):
    db.execute_sql("""
        CREATE TABLE map_place (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            village TEXT NOT NULL DEFAULT '',
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            contact TEXT NOT NULL DEFAULT '',
            activities TEXT NOT NULL DEFAULT '',
            languages TEXT NOT NULL DEFAULT '',
            led_by_women INTEGER NOT NULL DEFAULT 0,
            led_by_youth INTEGER NOT NULL DEFAULT 0,
            origin TEXT NOT NULL DEFAULT '',
            removed INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL)""")
    db.execute_sql("CREATE INDEX map_place_name_key ON map_place (name_key)")
    db.execute_sql("""
        CREATE TABLE map_proposal (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            place_uuid TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            village TEXT NOT NULL DEFAULT '',
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            contact TEXT NOT NULL DEFAULT '',
            activities TEXT NOT NULL DEFAULT '',
            languages TEXT NOT NULL DEFAULT '',
            led_by_women INTEGER NOT NULL DEFAULT 0,
            led_by_youth INTEGER NOT NULL DEFAULT 0,
            client_hash TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'pending',
            decided_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            decided_at TEXT NOT NULL DEFAULT '')""")
    db.execute_sql("CREATE INDEX map_proposal_status ON map_proposal (status, id)")
