"""SMS (issue 16): phone numbers of basic phones, messages in and out, and which post
or booking each number asked, supported or made. Posts and bookings get a ``channel``
("web" or "sms") that the sync carries, so central counts SMS separately.

Numbers live only in ``sms_contact.number`` and, until sent, ``sms_outgoing.number``;
everything else refers to the contact or to a box-salted hash."""


def up(db):
    db.execute_sql("ALTER TABLE board_post ADD COLUMN channel TEXT NOT NULL DEFAULT 'web'")
    db.execute_sql("ALTER TABLE programme_booking ADD COLUMN channel TEXT NOT NULL DEFAULT 'web'")
    db.execute_sql("""
        CREATE TABLE sms_contact (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            number_hash TEXT NOT NULL UNIQUE,
            lang TEXT NOT NULL DEFAULT '',
            gender TEXT NOT NULL DEFAULT '',
            age_group TEXT NOT NULL DEFAULT '',
            listing TEXT NOT NULL DEFAULT '',
            listing_at TEXT NOT NULL DEFAULT '',
            pending TEXT NOT NULL DEFAULT '',
            refused_at TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL)""")
    db.execute_sql("""
        CREATE TABLE sms_inbound (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            contact_id INTEGER REFERENCES sms_contact (id) ON DELETE SET NULL,
            number_hash TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            klass INTEGER NOT NULL DEFAULT -1,
            is_binary INTEGER NOT NULL DEFAULT 0,
            parts INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'new',
            outcome TEXT NOT NULL DEFAULT '',
            received_at TEXT NOT NULL,
            handled_at TEXT NOT NULL DEFAULT '')""")
    db.execute_sql("CREATE INDEX sms_inbound_status ON sms_inbound (status, id)")
    db.execute_sql("CREATE INDEX sms_inbound_hash ON sms_inbound (number_hash, received_at)")
    db.execute_sql("""
        CREATE TABLE sms_outgoing (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER REFERENCES sms_contact (id) ON DELETE SET NULL,
            number TEXT NOT NULL DEFAULT '',
            number_hash TEXT NOT NULL,
            text TEXT NOT NULL,
            encoding TEXT NOT NULL,
            parts INTEGER NOT NULL DEFAULT 1,
            purpose TEXT NOT NULL,
            ref TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0,
            file_name TEXT NOT NULL DEFAULT '',
            handed_day TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            handed_at TEXT NOT NULL DEFAULT '',
            done_at TEXT NOT NULL DEFAULT '')""")
    db.execute_sql("CREATE INDEX sms_outgoing_status ON sms_outgoing (status, id)")
    db.execute_sql("CREATE INDEX sms_outgoing_day ON sms_outgoing (handed_day)")
    db.execute_sql("""
        CREATE TABLE sms_link (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES sms_contact (id) ON DELETE CASCADE,
            post_id INTEGER NOT NULL REFERENCES board_post (id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (contact_id, post_id))""")
    db.execute_sql("CREATE INDEX sms_link_post ON sms_link (post_id)")
    db.execute_sql("""
        CREATE TABLE sms_booking (
            id INTEGER PRIMARY KEY,
            contact_id INTEGER NOT NULL REFERENCES sms_contact (id) ON DELETE CASCADE,
            booking_id INTEGER NOT NULL UNIQUE
                REFERENCES programme_booking (id) ON DELETE CASCADE,
            reminded INTEGER NOT NULL DEFAULT 0)""")
