"""Remote coaching (issue 20): a learner's work for an exercise (a recording of their
reading, a photo of their writing: the bytes in the blob store, named by SHA-256) and a
trainer's answer to it from central (a mark and a voice note)."""


def up(db):
    db.execute_sql("""
        CREATE TABLE learning_work (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            learner_id INTEGER NOT NULL REFERENCES learning_learner (id) ON DELETE CASCADE,
            course TEXT NOT NULL,
            lesson TEXT NOT NULL,
            exercise INTEGER NOT NULL,
            type TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            mime TEXT NOT NULL,
            size INTEGER NOT NULL,
            seconds REAL,
            created_at TEXT NOT NULL)""")
    db.execute_sql(
        "CREATE INDEX learning_work_lesson ON learning_work (learner_id, course, lesson)"
    )
    db.execute_sql("CREATE INDEX learning_work_sha256 ON learning_work (sha256)")
    db.execute_sql("""
        CREATE TABLE learning_feedback (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            work_uuid TEXT NOT NULL,
            mark INTEGER NOT NULL,
            clip_sha256 TEXT NOT NULL DEFAULT '',
            clip_mime TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL)""")
    db.execute_sql("CREATE INDEX learning_feedback_work ON learning_feedback (work_uuid)")
