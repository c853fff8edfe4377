"""Visits: which phones entered through the welcome page, by day, as day-salted hashes
that never leave the box (only the daily count does)."""


def up(db) -> None:
    db.execute_sql("""
        CREATE TABLE portal_visit (
            day TEXT NOT NULL,   -- UTC, 'YYYY-MM-DD'
            who TEXT NOT NULL,   -- privacy.client_hash(scope='day'): unlinkable next day
            PRIMARY KEY (day, who)
        ) WITHOUT ROWID""")
