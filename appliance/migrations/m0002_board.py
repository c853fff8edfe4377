"""The citizens' board: posts, "me too" supports, answers, flags, moderation log.

Counters (``support_count``, ``answer_count``, ``flag_count``) are kept on the post by
the rule functions in the same transaction as the rows they count, so the board page
sorts and filters on indexed columns instead of aggregating 5,000 posts per view.
"""


def up(db):
    for sql in (
        """CREATE TABLE board_post (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            code TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('question', 'proposal')),
            commune_id INTEGER NOT NULL REFERENCES commune (id) ON DELETE RESTRICT,
            official_id INTEGER REFERENCES official (id) ON DELETE RESTRICT,
            theme TEXT NOT NULL,
            body TEXT NOT NULL DEFAULT '',
            voice_sha256 TEXT NOT NULL DEFAULT '',
            voice_mime TEXT NOT NULL DEFAULT '',
            voice_seconds REAL,
            voice_bytes INTEGER NOT NULL DEFAULT 0,
            alias TEXT NOT NULL DEFAULT '',
            age_group TEXT NOT NULL DEFAULT '',
            gender TEXT NOT NULL DEFAULT '' CHECK (gender IN ('', 'f', 'm')),
            status TEXT NOT NULL CHECK (status IN ('pending', 'published', 'hidden', 'merged')),
            hidden_reason TEXT NOT NULL DEFAULT '',
            merged_into_id INTEGER REFERENCES board_post (id) ON DELETE RESTRICT,
            reviewed INTEGER NOT NULL DEFAULT 0,
            author_hash TEXT NOT NULL DEFAULT '',
            support_count INTEGER NOT NULL DEFAULT 0,
            answer_count INTEGER NOT NULL DEFAULT 0,
            flag_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            CHECK (body <> '' OR voice_sha256 <> ''))""",
        # The board's views: newest / most supported, optionally by theme or commune.
        "CREATE INDEX board_post_new ON board_post (status, id)",
        "CREATE INDEX board_post_top ON board_post (status, support_count, id)",
        "CREATE INDEX board_post_theme ON board_post (status, theme, id)",
        "CREATE INDEX board_post_commune ON board_post (status, commune_id, id)",
        # No index on answer_count: "answered"/"waiting" walk board_post_new in id order
        # and stop after one page, cheaper than sorting every answered post.
        "CREATE INDEX board_post_author ON board_post (author_hash, created_at)",
        "CREATE INDEX board_post_voice ON board_post (voice_sha256)",
        """CREATE TABLE board_support (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            post_id INTEGER NOT NULL REFERENCES board_post (id) ON DELETE CASCADE,
            client_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (post_id, client_hash))""",
        """CREATE TABLE board_answer (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            post_id INTEGER NOT NULL REFERENCES board_post (id) ON DELETE CASCADE,
            official_id INTEGER REFERENCES official (id) ON DELETE RESTRICT,
            official_name TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            voice_sha256 TEXT NOT NULL DEFAULT '',
            voice_mime TEXT NOT NULL DEFAULT '',
            voice_seconds REAL,
            voice_bytes INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL CHECK (source IN ('kiosk', 'central')),
            recorded_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            CHECK (body <> '' OR voice_sha256 <> ''))""",
        "CREATE INDEX board_answer_post ON board_answer (post_id, id)",
        "CREATE INDEX board_answer_voice ON board_answer (voice_sha256)",
        """CREATE TABLE board_flag (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES board_post (id) ON DELETE CASCADE,
            client_hash TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            UNIQUE (post_id, client_hash))""",
        """CREATE TABLE board_decision (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            post_id INTEGER NOT NULL REFERENCES board_post (id) ON DELETE CASCADE,
            action TEXT NOT NULL CHECK (action IN ('publish', 'hide', 'merge', 'flagged')),
            reason TEXT NOT NULL DEFAULT '',
            into_id INTEGER REFERENCES board_post (id),
            facilitator TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL)""",
        "CREATE INDEX board_decision_post ON board_decision (post_id, id)",
    ):
        db.execute_sql(sql)
