"""The library: downloads in progress (resumable), usage counts waiting for the
hourly roll-up, and a per-day ledger of bytes downloaded for content."""


def up(db) -> None:
    db.execute_sql("""
        CREATE TABLE content_download (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,            -- file name it installs as (<name>.zim)
            sha256 TEXT NOT NULL DEFAULT '',
            size INTEGER NOT NULL DEFAULT 0,   -- total size when known, else 0
            received INTEGER NOT NULL DEFAULT 0,
            validator TEXT NOT NULL DEFAULT '', -- ETag or Last-Modified for If-Range
            state TEXT NOT NULL DEFAULT 'queued', -- queued, running, waiting, failed, done
            error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute_sql("""
        CREATE TABLE content_usage (
            hour TEXT NOT NULL,   -- UTC, 'YYYY-MM-DDTHH'
            book TEXT NOT NULL,
            path TEXT NOT NULL,
            lang TEXT NOT NULL,
            kind TEXT NOT NULL,   -- 'view' or 'play'
            count INTEGER NOT NULL,
            PRIMARY KEY (hour, book, path, lang, kind)
        ) WITHOUT ROWID""")
    db.execute_sql("""
        CREATE TABLE content_budget (
            day TEXT PRIMARY KEY,  -- UTC date
            bytes INTEGER NOT NULL
        )""")
