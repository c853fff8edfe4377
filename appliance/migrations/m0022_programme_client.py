"""Programme: which phone made a booking (a box-salted hash that never leaves the box),
so that one phone cannot take every seat of a session."""


def up(db):
    db.execute_sql("ALTER TABLE programme_booking ADD COLUMN client TEXT NOT NULL DEFAULT ''")
    db.execute_sql("CREATE INDEX programme_booking_client ON programme_booking "
                   "(session_id, client)")
