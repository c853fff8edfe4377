"""Which answer each SMS number has been sent (docs/sms.md): one row per (answer,
number), written in the transaction that queues that number's answer SMS. The answer's
own mark (``sms_answered``, 0085) says the answer went to the numbers linked to its post
then; this says who got it, so a number that supports the post (or whose duplicate is
merged into it) later gets the latest answer once, and never twice.

Filled for the answers already dealt with: a number got an answer if an answer SMS
about its post was queued for it (kept at least ``sms.retention_days``), and an answer
older than 30 days counts as told to every number of its post (as in 0085: nothing
that old is sent on an upgrade). The numbers left are the ones that supported after the
answer went out: the worker's next ``sms`` run sends them the latest answer, late rather
than never."""


def up(db):
    db.execute_sql("""
        CREATE TABLE sms_answer_told (
            answer_id INTEGER NOT NULL REFERENCES board_answer (id) ON DELETE CASCADE,
            contact_id INTEGER NOT NULL REFERENCES sms_contact (id) ON DELETE CASCADE,
            told_at TEXT NOT NULL,
            PRIMARY KEY (answer_id, contact_id))""")
    db.execute_sql("CREATE INDEX sms_answer_told_contact ON sms_answer_told (contact_id)")
    db.execute_sql("""
        INSERT OR IGNORE INTO sms_answer_told (answer_id, contact_id, told_at)
        SELECT a.id, l.contact_id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
        FROM sms_answered d
        JOIN board_answer a ON a.id = d.answer_id
        JOIN board_post p ON p.id = a.post_id
        JOIN board_post q ON q.id = p.id OR q.merged_into_id = p.id
        JOIN sms_link l ON l.post_id = q.id
        JOIN sms_contact c ON c.id = l.contact_id
        WHERE substr(a.created_at, 1, 19) < strftime('%Y-%m-%dT%H:%M:%S', 'now', '-30 days')
           OR EXISTS (SELECT 1 FROM sms_outgoing o
                      WHERE o.purpose = 'answer' AND o.ref = p.code
                        AND (o.contact_id = c.id OR o.number_hash = c.number_hash))""")
