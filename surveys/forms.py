"""Survey forms on the box: imported from an XLSForm (kiosk upload, USB stick) or sent by
central (``survey.form``), every version kept so that a phone that downloaded an older
one can still submit it, media files in the blob store.

Media are stored before the form's rows; the rows and the version are one transaction,
so a power cut leaves the old version offered, or the new one with all its media.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import re
from pathlib import Path

from appliance import blobs
from appliance.db import database
from appliance.errors import EspaceError
from sync_contract.xlsform import Form, FormRefused, convert, describe

__all__ = [
    "Form",
    "FormRefused",
    "FormError",
    "import_xlsform",
    "save_form",
    "forms",
    "current",
    "version_xml",
    "media_of",
    "set_state",
    "set_public",
    "MAX_MEDIA_BYTES",
]

MAX_MEDIA_BYTES = 20_000_000  # one media file (an audio prompt, a picture)
MEDIA_NAME = re.compile(r"[\w][\w.() -]{0,120}")


class FormError(EspaceError):
    """A form that cannot be imported; says what to change."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def import_xlsform(
    data_dir: str | Path, path: str | Path, media_dir: str | Path | None = None, origin: str = "box"
) -> Form:
    """Convert, validate and store the XLSForm at ``path``; its media files are read from
    ``media_dir`` (default: the folder beside the file, or ``<stem>-media/``)."""
    path = Path(path)
    form = convert(path)  # FormRefused with the validator's message, sheet and line
    folder = Path(media_dir) if media_dir else None
    if folder is None:
        beside = path.with_name(f"{path.stem}-media")
        folder = beside if beside.is_dir() else path.parent
    media = {}
    for name in form.media:
        file = folder / name
        if not MEDIA_NAME.fullmatch(name) or not file.is_file():
            raise FormError(
                f"form {form.form_id}: media file {name!r} is missing",
                f"put {name} in {folder} (beside the form) and import again",
            )
        media[name] = file.read_bytes()
    save_form(data_dir, form, media, origin=origin)
    return form


def save_form(
    data_dir: str | Path,
    form: Form,
    media: dict[str, bytes],
    origin: str = "box",
    state: str | None = None,
) -> None:
    """Store ``form`` (a new version or the same again) with its media bytes. ``state``
    None keeps a known form open or closed as the facilitator left it (a new form is
    open): importing a corrected version must not reopen a closed survey."""
    missing = sorted(set(form.media) - set(media))
    if missing:
        raise FormError(
            f"form {form.form_id}: media {', '.join(missing)} missing",
            "send the form again with its media files",
        )
    stored = []
    for name, data in sorted(media.items()):
        if not MEDIA_NAME.fullmatch(name):
            raise FormError(
                f"form {form.form_id}: media name {name!r} is not allowed",
                "use letters, digits, dots, dashes and spaces",
            )
        if len(data) > MAX_MEDIA_BYTES:
            raise FormError(
                f"form {form.form_id}: media {name} is larger than "
                f"{MAX_MEDIA_BYTES // 1_000_000} MB",
                "make the file smaller",
            )
        sha, size = blobs.put_bytes(data_dir, data)
        stored.append((name, sha, hashlib.md5(data).hexdigest(), size, _mime(name)))  # noqa: S324
    with database.atomic():
        held = database.execute_sql(
            "SELECT md5 FROM survey_form_version WHERE form_id = ? AND version = ?",
            (form.form_id, form.version),
        ).fetchone()
        if held and held[0] != form.md5:
            raise FormError(
                f"form {form.form_id} version {form.version!r} is already on "
                "this box with other questions",
                "give the changed form a new version in its settings sheet",
            )
        database.execute_sql(
            "INSERT INTO survey_form (form_id, version, title, state, origin, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (form_id) DO UPDATE SET "
            "version = excluded.version, title = excluded.title, "
            "state = CASE WHEN ? THEN excluded.state ELSE survey_form.state END, "
            "origin = excluded.origin, updated_at = excluded.updated_at",
            (
                form.form_id,
                form.version,
                form.title,
                state or "open",
                origin,
                now(),
                state is not None,
            ),
        )
        if not held:
            database.execute_sql(
                "INSERT INTO survey_form_version (form_id, version, xml, md5, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (form.form_id, form.version, form.xml, form.md5, now()),
            )
        database.execute_sql(
            "DELETE FROM survey_media WHERE form_id = ? AND version = ?",
            (form.form_id, form.version),
        )
        for name, sha, md5, size, mime in stored:
            database.execute_sql(
                "INSERT INTO survey_media (form_id, version, name, sha256, md5, size, mime) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (form.form_id, form.version, name, sha, md5, size, mime),
            )


def forms(open_only: bool = False) -> list[dict]:
    """Every form with its current version, md5 and count of submissions."""
    rows = database.execute_sql(
        "SELECT f.form_id, f.version, f.title, f.state, f.origin, v.md5, "
        "(SELECT COUNT(*) FROM survey_submission s WHERE s.form_id = f.form_id), "
        "(SELECT COUNT(*) FROM survey_media m WHERE m.form_id = f.form_id "
        " AND m.version = f.version), f.web_public "
        "FROM survey_form f JOIN survey_form_version v "
        "ON v.form_id = f.form_id AND v.version = f.version "
        "WHERE f.state = 'open' OR NOT ? ORDER BY f.title, f.form_id",
        (open_only,),
    )
    keys = (
        "form_id",
        "version",
        "title",
        "state",
        "origin",
        "md5",
        "submissions",
        "media",
        "web_public",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def current(form_id: str) -> dict | None:
    """The form's current version (xml, md5, state), or None."""
    row = database.execute_sql(
        "SELECT f.form_id, f.version, f.title, f.state, v.xml, v.md5, f.web_public "
        "FROM survey_form f "
        "JOIN survey_form_version v ON v.form_id = f.form_id AND v.version = f.version "
        "WHERE f.form_id = ?",
        (form_id,),
    ).fetchone()
    keys = ("form_id", "version", "title", "state", "xml", "md5", "web_public")
    return dict(zip(keys, row, strict=True)) if row else None


def version_xml(form_id: str, version: str) -> str | None:
    row = database.execute_sql(
        "SELECT xml FROM survey_form_version WHERE form_id = ? AND version = ?", (form_id, version)
    ).fetchone()
    return row[0] if row else None


def media_of(form_id: str) -> list[dict]:
    """The current version's media: name, sha256, md5, size, mime."""
    rows = database.execute_sql(
        "SELECT m.name, m.sha256, m.md5, m.size, m.mime FROM survey_media m "
        "JOIN survey_form f ON f.form_id = m.form_id AND f.version = m.version "
        "WHERE m.form_id = ? ORDER BY m.name",
        (form_id,),
    )
    keys = ("name", "sha256", "md5", "size", "mime")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def set_state(form_id: str, state: str) -> None:
    if state not in ("open", "closed"):
        raise FormError(f"state {state!r} is not open or closed", "say open or closed")
    with database.atomic():
        n = database.execute_sql(
            "UPDATE survey_form SET state = ?, updated_at = ? WHERE form_id = ?",
            (state, now(), form_id),
        ).rowcount
    if not n:
        raise FormError(f"no form {form_id!r} on this box", "espace survey list")


def set_public(form_id: str, public: bool) -> None:
    """Open (or not) ``form_id`` to anyone on the hotspot, in the phone's browser."""
    with database.atomic():
        n = database.execute_sql(
            "UPDATE survey_form SET web_public = ?, updated_at = ? WHERE form_id = ?",
            (int(public), now(), form_id),
        ).rowcount
    if not n:
        raise FormError(f"no form {form_id!r} on this box", "espace survey list")


def from_central(data_dir: str | Path, payload: dict) -> str:
    """Apply a ``survey.form`` central sent (inside the pull's transaction)."""
    import base64

    form = describe(payload["xml"])
    media = {
        m["name"]: base64.b64decode(m["data"], validate=True) for m in payload.get("media") or []
    }
    save_form(data_dir, form, media, origin="central", state=payload.get("state") or "open")
    return "surveys"
