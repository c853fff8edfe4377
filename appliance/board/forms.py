"""Helpers the board's web forms share (portal and kiosk)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import request


def urlencoded_is_utf8() -> bool:
    """False when a url-encoded form carries bytes that are not UTF-8.

    Werkzeug keeps undecodable percent-escapes as literal text ("%FF"), which would
    store garbage silently; the raw body is checked here instead (and cached, so the
    form is still parsed from it). Multipart text fields are decoded with U+FFFD for
    bad bytes, which :func:`appliance.board.rules.clean_text` refuses."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return True
    raw = request.get_data(cache=True)
    try:
        for pair in raw.split(b"&"):
            for part in pair.split(b"=", 1):
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
