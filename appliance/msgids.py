"""``N_``: marks a string for the catalogue without translating it (gettext's
``gettext_noop``, a keyword ``pybabel extract`` knows by default).

A package's ``contribute`` names its home tiles and kiosk tabs with ``N_("Learn")``:
the registry keeps the msgid, and the page translates it when it shows it
(``{{ _(tile.label) }}``) in the visitor's language. Building the registry then
imports no Flask-Babel (nor Flask): ``espace sync now`` builds it too, and its peak
memory is a contract (bench/sync.py T9).
"""

from __future__ import annotations


def N_(msgid: str) -> str:  # noqa: N802 - gettext's own name for it
    """``msgid`` itself, marked for ``pybabel extract``."""
    return msgid
