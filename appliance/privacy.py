"""Who a visitor is, as far as the box needs to know: a salted hash, never the raw
MAC or IP.

``scope="day"`` hashes rotate every day (usage statistics); ``scope="box"`` hashes
are stable on this box (one "me too" per phone) and never leave it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from pathlib import Path

from .db import database
from .models import Meta


def mac_for_ip(ip: str, proc: str | Path = "/proc") -> str | None:
    """The MAC of a neighbour from the kernel's ARP table, or None."""
    try:
        lines = Path(proc, "net/arp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[0] == ip and fields[3] != "00:00:00:00:00:00":
            return fields[3].lower()
    return None


def _salt(name: str) -> bytes:
    value = Meta.get_value(name)
    if value is None:
        with database.atomic():
            value = Meta.get_value(name)
            if value is None:
                value = secrets.token_hex(32)
                Meta.set_value(name, value)
    return bytes.fromhex(value)


def client_hash(ip: str, scope: str = "day", proc: str | Path = "/proc") -> str:
    """A 16-hex-digit token for the phone behind ``ip`` (its MAC where known)."""
    return identity_hash(mac_for_ip(ip, proc) or ip, scope)


def identity_hash(who: str, scope: str = "box") -> str:
    """A 16-hex-digit token for any identity with the same salts as :func:`client_hash`:
    a MAC (or IP) already known, e.g. from the quota state, or a phone number (SMS)."""
    if scope == "day":
        salt_name = "salt:day:" + dt.date.today().isoformat()
    elif scope == "box":
        salt_name = "salt:box"
    else:
        raise ValueError(scope)
    return hmac.new(_salt(salt_name), who.encode(), hashlib.sha256).hexdigest()[:16]
