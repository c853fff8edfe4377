"""Integers in URLs bounded to what the database can hold.

Werkzeug's ``int`` converter accepts any number of digits; SQLite (and PostgreSQL)
integers stop at 2**63 - 1, and a larger id made the query itself fail with a 500.
With this converter as the app's ``int``, such a URL simply matches nothing (404).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

LARGEST = 2**63 - 1


class BoundedInt(IntegerConverter):
    def __init__(self, map, fixed_digits=0, min=None, max=LARGEST, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    """Call before any route is added: rules read their converter when added."""
    app.url_map.converters["int"] = BoundedInt
