"""Learning groups (issue 20): learners without accounts (a 6-digit code, optional first
name, gender and age group, all kept on the box), their progress per lesson, and the
groups a facilitator runs. Central sees only ``learning_learner.ref`` (a box-salted
hash) with the learner's progress per course."""


def up(db):
    db.execute_sql("""
        CREATE TABLE learning_learner (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            ref TEXT NOT NULL UNIQUE,
            first_name TEXT NOT NULL DEFAULT '',
            gender TEXT NOT NULL DEFAULT '',
            age_group TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL)""")
    db.execute_sql("""
        CREATE TABLE learning_progress (
            id INTEGER PRIMARY KEY,
            learner_id INTEGER NOT NULL REFERENCES learning_learner (id) ON DELETE CASCADE,
            course TEXT NOT NULL,
            lesson TEXT NOT NULL,
            opened_at TEXT NOT NULL DEFAULT '',
            listened_at TEXT NOT NULL DEFAULT '',
            done_at TEXT NOT NULL DEFAULT '',
            score INTEGER,
            answers TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL,
            UNIQUE (learner_id, course, lesson))""")
    db.execute_sql("""
        CREATE TABLE learning_group (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            course TEXT NOT NULL,
            pace_days INTEGER NOT NULL DEFAULT 7,
            started_on TEXT NOT NULL,
            created_at TEXT NOT NULL)""")
    db.execute_sql("""
        CREATE TABLE learning_member (
            id INTEGER PRIMARY KEY,
            group_id INTEGER NOT NULL REFERENCES learning_group (id) ON DELETE CASCADE,
            learner_id INTEGER NOT NULL REFERENCES learning_learner (id) ON DELETE CASCADE,
            UNIQUE (group_id, learner_id))""")
