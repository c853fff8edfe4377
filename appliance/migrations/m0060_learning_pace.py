"""Learning groups at a pace linked to the programme (issue 20): a group may follow a
weekly series of sessions (each module due at one of its sessions), and says a member
is stuck after ``stuck_days`` days without progress."""


def up(db):
    db.execute_sql(
        "ALTER TABLE learning_group ADD COLUMN series_id INTEGER"
        " REFERENCES programme_series (id) ON DELETE SET NULL"
    )
    db.execute_sql("ALTER TABLE learning_group ADD COLUMN stuck_days INTEGER NOT NULL DEFAULT 10")
