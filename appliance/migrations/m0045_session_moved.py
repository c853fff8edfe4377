"""Programme: the start a session had before it was moved with bookings, so visitors'
tickets and the programme can say it moved (issue 15)."""


def up(db):
    db.execute_sql("ALTER TABLE programme_session ADD COLUMN moved_from DATETIME")
