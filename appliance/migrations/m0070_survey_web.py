"""Surveys in the phone's browser (issue 17): a form may be open to the public (anyone
on the hotspot fills it in the browser), chosen on the box; otherwise only enumerators
who log in fill it there. Off for every form already on the box."""


def up(db):
    db.execute_sql("ALTER TABLE survey_form ADD COLUMN web_public INTEGER NOT NULL DEFAULT 0")
