"""Sync state: acknowledged sequence per stream, the pull cursor, what was pulled,
bytes spent per day, resumable downloads and the run log.

The pull cursor and the rows it covers are written in one transaction, so a power cut
never applies a pulled record twice or skips one."""


def up(db):
    for sql in (
        # Highest seq of each stream central confirmed it stored (with all before it).
        """CREATE TABLE sync_stream (
            stream TEXT PRIMARY KEY,
            acked_seq INTEGER NOT NULL DEFAULT 0)""",
        # Cursor of each feed pulled from central (one today: 'down').
        """CREATE TABLE sync_cursor (
            feed TEXT PRIMARY KEY,
            cursor INTEGER NOT NULL DEFAULT 0)""",
        # What central sent down (answers, announcements, catalogue, config), by its id.
        """CREATE TABLE sync_inbox (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            received_at TEXT NOT NULL,
            applied TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX sync_inbox_kind ON sync_inbox (kind, id)",
        # Bytes the sync moved per day (UTC), headers included.
        """CREATE TABLE sync_usage (
            day TEXT PRIMARY KEY,
            bytes_up INTEGER NOT NULL DEFAULT 0,
            bytes_down INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0)""",
        # Voice notes referenced by civic events, to upload after the text.
        # tried: an upload began, so central may hold part of it (ask before sending).
        """CREATE TABLE sync_blob_todo (
            sha256 TEXT PRIMARY KEY,
            tried INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0)""",
        # Large downloads from central (ZIMs), resumed piece by piece.
        """CREATE TABLE sync_download (
            sha256 TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            pieces TEXT NOT NULL,
            dest TEXT NOT NULL,
            have INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE sync_run (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL DEFAULT '',
            result TEXT NOT NULL DEFAULT '',
            bytes INTEGER NOT NULL DEFAULT 0,
            pushed INTEGER NOT NULL DEFAULT 0,
            pulled INTEGER NOT NULL DEFAULT 0,
            rtt_ms INTEGER NOT NULL DEFAULT 0)""",
    ):
        db.execute_sql(sql)
    for stream in ("civic", "blob", "usage", "content"):
        db.execute_sql("INSERT INTO sync_stream (stream, acked_seq) VALUES (?, 0)", (stream,))
    db.execute_sql("INSERT INTO sync_cursor (feed, cursor) VALUES ('down', 0)")
