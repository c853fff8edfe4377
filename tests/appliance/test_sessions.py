"""Remembered session cookies: the same answers as Flask's, never for a forged one."""

from flask import session


def test_cached_session_matches_flask_and_refuses_tampering(app):
    @app.get("/_t/set")
    def set_():
        session["facilitator"] = "Awa"
        return "ok"

    @app.get("/_t/get")
    def get_():
        return session.get("facilitator", "nobody")

    client = app.test_client()
    client.get("/_t/set")
    cookie = client.get_cookie("session").value
    for _ in range(3):  # first verified, then remembered
        assert client.get("/_t/get").get_data(as_text=True) == "Awa"
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    other = app.test_client()
    other.set_cookie("session", forged)
    assert other.get("/_t/get").get_data(as_text=True) == "nobody"
    # A session changed by a view is a new cookie: the old data is not served for it.
    client.get("/_t/set")
    assert client.get("/_t/get").get_data(as_text=True) == "Awa"
