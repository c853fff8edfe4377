"""Field surveys (surveys/): forms and their versions, their media, the enumerators who
log in from ODK Collect, and the submissions with their attachments (bytes in the blob
store, named by SHA-256)."""


def up(db) -> None:
    db.execute_sql("""
        CREATE TABLE survey_form (
            form_id TEXT PRIMARY KEY,
            version TEXT NOT NULL,          -- the current version, offered in the list
            title TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
            origin TEXT NOT NULL DEFAULT 'box',  -- 'box' (imported here) or 'central'
            updated_at TEXT NOT NULL
        )""")
    # Every version a phone may have downloaded: a submission of an older one is kept.
    db.execute_sql("""
        CREATE TABLE survey_form_version (
            form_id TEXT NOT NULL REFERENCES survey_form (form_id) ON DELETE CASCADE,
            version TEXT NOT NULL,
            xml TEXT NOT NULL,
            md5 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (form_id, version)
        )""")
    db.execute_sql("""
        CREATE TABLE survey_media (
            form_id TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            md5 TEXT NOT NULL,
            size INTEGER NOT NULL,
            mime TEXT NOT NULL,
            PRIMARY KEY (form_id, version, name),
            FOREIGN KEY (form_id, version) REFERENCES survey_form_version (form_id, version)
                ON DELETE CASCADE
        )""")
    db.execute_sql("""
        CREATE TABLE survey_enumerator (
            username TEXT PRIMARY KEY,
            ha1 TEXT NOT NULL,              -- MD5(username:realm:password), RFC 7616
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )""")
    db.execute_sql("""
        CREATE TABLE survey_submission (
            id INTEGER PRIMARY KEY,
            instance_id TEXT NOT NULL UNIQUE,
            form_id TEXT NOT NULL REFERENCES survey_form (form_id),
            version TEXT NOT NULL,
            xml_sha256 TEXT NOT NULL,
            enumerator TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL
        )""")
    db.execute_sql("CREATE INDEX survey_submission_form ON survey_submission (form_id)")
    db.execute_sql("""
        CREATE TABLE survey_attachment (
            submission_id INTEGER NOT NULL REFERENCES survey_submission (id)
                ON DELETE CASCADE,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            mime TEXT NOT NULL,
            size INTEGER NOT NULL,
            PRIMARY KEY (submission_id, name)
        )""")
