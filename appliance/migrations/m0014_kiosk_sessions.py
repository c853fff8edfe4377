"""Kiosk sessions kept on the box, so that logging out (or changing a PIN) ends them:
a copied cookie is worth nothing once its row is gone."""


def up(db):
    db.execute_sql(
        "CREATE TABLE kiosk_session (key TEXT PRIMARY KEY, facilitator TEXT NOT NULL, "
        "pin_mark TEXT NOT NULL, created REAL NOT NULL)"
    )
