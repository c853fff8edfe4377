"""Board: whom central forwarded a post to (an official of the site or a service), so
the board shows the visitor whom it is for (issue 15)."""


def up(db):
    db.execute_sql("""
        CREATE TABLE board_forward (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            post_id INTEGER NOT NULL REFERENCES board_post (id) ON DELETE CASCADE,
            to_kind TEXT NOT NULL,
            to_name TEXT NOT NULL,
            to_role TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL)""")
    db.execute_sql("CREATE INDEX board_forward_post_id ON board_forward (post_id)")
