"""Spoken labels: a label's text corrected and its clip recorded at a kiosk, in one
language. Rows are events (a change is a new row); the newest per (key, lang) wins, so
rows from other boxes of the region can join in any order."""


def up(db) -> None:
    db.execute_sql("""
        CREATE TABLE label (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            key TEXT NOT NULL,            -- "msg:Learn", "official:Mariam Diallo", ...
            lang TEXT NOT NULL,           -- a language code of appliance/languages.py
            text TEXT NOT NULL DEFAULT '',       -- '' keeps the catalogue's text
            clip_sha256 TEXT NOT NULL DEFAULT '', -- '' records no clip
            clip_mime TEXT NOT NULL DEFAULT '',
            clip_seconds REAL,
            origin TEXT NOT NULL DEFAULT '',     -- '' recorded here, else the site id
            created_at TEXT NOT NULL             -- UTC ISO 8601, orders rows across boxes
        )""")
    db.execute_sql("CREATE INDEX label_key_lang ON label (lang, key, created_at)")
