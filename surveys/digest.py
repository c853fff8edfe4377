"""HTTP Digest authentication (RFC 7616, MD5, qop=auth) for enumerators: over the
hotspot's plain HTTP, ODK Collect offers only Digest (it never sends a password in
clear). Nonces are stateless: a time and an HMAC of it with the app's secret, so any
worker thread or a restarted process checks them; an old nonce is answered
``stale=true`` and Collect retries without asking the enumerator again.

The box keeps HA1 = MD5(username:realm:password) per enumerator, which is what Digest
needs (never the password). MD5 is what Collect computes; these accounts open only the
survey endpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from appliance.db import database

REALM = "espace"
NONCE_SECONDS = 24 * 3600
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324  (RFC 7616 MD5, as Collect)


def ha1(username: str, password: str) -> str:
    return md5(f"{username}:{REALM}:{password}")


def _sign(secret: str, stamp: str) -> str:
    return hmac.new(secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()[:32]


def new_nonce(secret: str) -> str:
    stamp = f"{int(time.time())}.{secrets.token_hex(4)}"
    return f"{stamp}.{_sign(secret, stamp)}"


def nonce_age(secret: str, nonce: str) -> float | None:
    """Seconds since ``nonce`` was made, or None if it was not made here."""
    stamp, _, sig = nonce.rpartition(".")
    if not stamp or not hmac.compare_digest(_sign(secret, stamp), sig):
        return None
    try:
        return time.time() - int(stamp.split(".")[0])
    except ValueError:
        return None


def challenge(secret: str, stale: bool = False) -> str:
    return (
        f'Digest realm="{REALM}", qop="auth", algorithm=MD5, '
        f'nonce="{new_nonce(secret)}", opaque="{md5(REALM)}"' + (", stale=true" if stale else "")
    )


def parse(header: str) -> dict[str, str]:
    if header[:7].lower() != "digest ":
        return {}
    return {
        k.lower(): (q.replace('\\"', '"') if q is not None and q != "" else v)
        for k, q, v in _PARAM.findall(header[7:])
    }


def check(secret: str, header: str, method: str, uri_ok) -> tuple[str | None, bool]:
    """(username, stale): the enumerator ``header`` proves, or None. ``uri_ok(uri)``
    says whether the digest's ``uri`` is this request's."""
    p = parse(header or "")
    username, nonce, response = p.get("username", ""), p.get("nonce", ""), p.get("response", "")
    if (
        not USERNAME.fullmatch(username)
        or not nonce
        or not response
        or not uri_ok(p.get("uri", ""))
    ):
        return None, False
    if p.get("realm") != REALM or p.get("algorithm", "MD5").upper() != "MD5":
        return None, False
    age = nonce_age(secret, nonce)
    if age is None:
        return None, False
    row = database.execute_sql(
        "SELECT ha1 FROM survey_enumerator WHERE username = ? AND active = 1", (username,)
    ).fetchone()
    if row is None:
        return None, False
    ha2 = md5(f"{method}:{p['uri']}")
    qop = p.get("qop", "")
    if qop == "auth":
        expected = md5(f"{row[0]}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
    elif not qop:
        expected = md5(f"{row[0]}:{nonce}:{ha2}")  # RFC 2069, older clients
    else:
        return None, False
    if not hmac.compare_digest(expected, response.lower()):
        return None, False
    if age > NONCE_SECONDS:
        return None, True  # right password, old nonce: the client retries at once
    return username, False


def password_ok(username: str, password: str) -> bool:
    """Whether ``password`` is this active enumerator's (the browser's login form)."""
    if not USERNAME.fullmatch(username or ""):
        return False
    row = database.execute_sql(
        "SELECT ha1 FROM survey_enumerator WHERE username = ? AND active = 1", (username,)
    ).fetchone()
    return row is not None and hmac.compare_digest(row[0], ha1(username, password))


def add_enumerator(username: str, password: str) -> None:
    """Create (or give a new password to) an enumerator account."""
    from appliance.errors import EspaceError

    if not USERNAME.fullmatch(username):
        raise EspaceError(
            f"enumerator name {username!r} is not allowed",
            "use 1-64 letters, digits, dots, dashes or underscores",
        )
    if len(password) < 6:
        raise EspaceError("the password is shorter than 6 characters", "choose a longer password")
    import datetime as dt

    with database.atomic():
        database.execute_sql(
            "INSERT INTO survey_enumerator (username, ha1, active, created_at) "
            "VALUES (?, ?, 1, ?) ON CONFLICT (username) DO UPDATE SET ha1 = excluded.ha1, "
            "active = 1",
            (
                username,
                ha1(username, password),
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ),
        )


def enumerators() -> list[str]:
    return [
        r[0]
        for r in database.execute_sql(
            "SELECT username FROM survey_enumerator WHERE active = 1 ORDER BY username"
        )
    ]
