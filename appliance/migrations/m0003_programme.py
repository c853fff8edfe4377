"""Programme: session identity for central, release time of reserved seats, weekly
series with exceptions, bookings with a waiting list and attendance."""


def up(db):
    for sql in (
        """CREATE TABLE programme_series (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            first_local TEXT NOT NULL,
            weeks INTEGER NOT NULL CHECK (weeks BETWEEN 1 AND 104),
            exceptions TEXT NOT NULL DEFAULT '')""",
        "ALTER TABLE programme_session ADD COLUMN uuid TEXT",
        # Sessions created before this migration get an identity central can key on.
        "UPDATE programme_session SET uuid = lower(hex(randomblob(16))) WHERE uuid IS NULL",
        "CREATE UNIQUE INDEX programme_session_uuid ON programme_session (uuid)",
        "ALTER TABLE programme_session ADD COLUMN release_min INTEGER NOT NULL DEFAULT 120 "
        "CHECK (release_min >= 0)",
        "ALTER TABLE programme_session ADD COLUMN series_id INTEGER "
        "REFERENCES programme_series (id) ON DELETE SET NULL",
        "CREATE INDEX programme_session_series ON programme_session (series_id)",
        """CREATE TABLE programme_booking (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            session_id INTEGER NOT NULL REFERENCES programme_session (id) ON DELETE CASCADE,
            code TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            gender TEXT NOT NULL DEFAULT '' CHECK (gender IN ('', 'f', 'm')),
            age_group TEXT NOT NULL DEFAULT '' CHECK (age_group IN ('', 'under35', '35plus')),
            status TEXT NOT NULL CHECK (status IN ('booked', 'waiting', 'cancelled')),
            pool TEXT NOT NULL DEFAULT 'open' CHECK (pool IN ('open', 'women', 'youth')),
            attendance TEXT NOT NULL DEFAULT '' CHECK (attendance IN ('', 'present', 'no_show')),
            walk_in INTEGER NOT NULL DEFAULT 0,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL)""",
        # A code is unique within its session: the door and the cancel page ask for both.
        "CREATE UNIQUE INDEX programme_booking_code ON programme_booking (session_id, code)",
        "CREATE INDEX programme_booking_code_only ON programme_booking (code)",
        "CREATE INDEX programme_booking_session ON programme_booking (session_id, status, id)",
    ):
        db.execute_sql(sql)
