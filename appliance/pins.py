"""Facilitators' PINs: hashed with scrypt (werkzeug), never stored or logged plain."""

from werkzeug.security import check_password_hash, generate_password_hash

from .errors import UsageError


def hash_pin(pin: str) -> str:
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise UsageError("a PIN is 4 to 8 digits", "choose a PIN like 4821")
    return generate_password_hash(pin, method="scrypt")


def check_pin(pin_hash: str, pin: str) -> bool:
    return check_password_hash(pin_hash, pin)
