"""Corrections as gettext catalogues, for the project's translations."""

from __future__ import annotations

import io
import os
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from ..db import database
from .rules import corrections


def catalogue(lang: str, site_id: str) -> Catalog:
    """The corrections of ``lang`` (msgid -> corrected text), one entry each."""
    cat = Catalog(locale=None, project="Espace", charset="utf-8")
    cat.language_team = lang
    for msgid, text in sorted(corrections(lang).items()):
        cat.add(msgid, text, auto_comments=[f"corrected at a kiosk (exported by {site_id})"])
    return cat


def write_catalogues(out_dir: Path, site_id: str) -> list[tuple[Path, int]]:
    """One messages.po per language that has corrections; atomic writes."""
    langs = [r[0] for r in database.execute_sql(
        "SELECT DISTINCT lang FROM label WHERE text != '' AND key LIKE 'msg:%' ORDER BY lang")]
    written = []
    for lang in langs:
        cat = catalogue(lang, site_id)
        if not len(cat):
            continue
        buf = io.BytesIO()
        write_po(buf, cat, width=100, no_location=True)
        path = out_dir / lang / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        written.append((path, len(cat)))
    return written
