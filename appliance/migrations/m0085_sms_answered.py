"""Answers reach SMS askers whichever process applied them (the worker's ``sms`` job
queues them, docs/sms.md): one row per answer the SMS side has dealt with, written in
the transaction that queues its messages, so an answer is queued exactly once.

Answers already on the box are marked dealt with, so an upgrade sends no old answer
again, except the ones the answer listener this replaces missed (an answer applied by
``espace sync now`` or ``espace sync import``, outside the web app and the worker): an
answer of the last 30 days to a post an SMS number asked or supported (or to a post
merged into it) for which no answer SMS was ever queued. Those go once, late rather
than never. (Answer SMS rows are kept at least ``sms.retention_days``, 90 by default;
30 days keeps to what the table still shows on most boxes.)"""


def up(db):
    db.execute_sql("""
        CREATE TABLE sms_answered (
            answer_id INTEGER PRIMARY KEY REFERENCES board_answer (id) ON DELETE CASCADE,
            handled_at TEXT NOT NULL)""")
    db.execute_sql("""
        INSERT INTO sms_answered (answer_id, handled_at)
        SELECT a.id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM board_answer a
        JOIN board_post p ON p.id = a.post_id
        WHERE NOT (
            substr(a.created_at, 1, 19) >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-30 days')
            AND EXISTS (SELECT 1 FROM sms_link l JOIN board_post q ON q.id = l.post_id
                        WHERE q.id = p.id OR q.merged_into_id = p.id)
            AND NOT EXISTS (SELECT 1 FROM sms_outgoing o
                            WHERE o.purpose = 'answer' AND o.ref = p.code))""")
