"""Forwarding a post to an official of its site or to a service (issue 15: "forwarding
a post to an official or service and seeing whom it is for").

The officials are those the site's boxes sent as ``official.saved`` snapshots (the
latest of each). A forward is kept once, audited, and sent down to the post's site as
``post.forwarded``, so the box's board shows the visitor whom it was sent to.
"""

from __future__ import annotations

import json
import unicodedata
import uuid

from sync_contract import kinds, protocol

from .db import database
from .i18n import _l
from .models import Admin, DownEvent, Post, PostForward, Site, Snapshot
from .service import FieldError

MAX_NAME = 120
MAX_NOTE = 500


class ForwardRefused(FieldError):
    """A forward central will not keep; ``field`` names the form field to fix."""


# How the messages name each field (the form's labels).
LABELS = {"official": _l("Official"), "service": _l("Service"), "note": _l("Note")}


def officials(site: Site) -> list[dict]:
    """The site's officials as its boxes last saved them: {id, name, role, commune},
    by name."""
    rows = Snapshot.select(Snapshot.payload).where(
        (Snapshot.site == site) & (Snapshot.kind == kinds.OFFICIAL_SAVED.name)
    )
    found = []
    for (payload,) in rows.tuples():
        try:
            data = json.loads(payload)
            found.append(
                {
                    "id": int(data["id"]),
                    "name": str(data["name"])[:MAX_NAME],
                    "role": str(data.get("role") or "")[:MAX_NAME],
                    "commune": str(data.get("commune") or "")[:80],
                }
            )
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda o: (o["name"].casefold(), o["id"]))


def clean(value: str, field: str, limit: int, *, lines: bool = False) -> str:
    """``value`` trimmed and NFC-normalised; :class:`ForwardRefused` naming ``field``
    when it is too long or holds control characters (line breaks only where ``lines``)
    or, in a name, markup. Any script (N'Ko, Arabic) is kept."""
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if len(text) > limit:
        raise ForwardRefused(
            _l(
                "%(field)s: %(n)d characters, at most %(max)d.",
                field=LABELS[field],
                n=len(text),
                max=limit,
            ),
            field,
        )
    allowed = {"\n"} if lines else set()
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise ForwardRefused(
            _l(
                "%(field)s: control characters are not allowed; type it again.", field=LABELS[field]
            ),
            field,
        )
    if not lines and ("<" in text or ">" in text):
        raise ForwardRefused(
            _l("%(field)s: < and > are not allowed in a name.", field=LABELS[field]), field
        )
    return text


def forward(
    post: Post,
    *,
    official_id: str = "",
    service: str = "",
    note: str = "",
    admin: Admin | None = None,
) -> PostForward:
    """Send ``post`` on to one of its site's officials (``official_id``) or a typed
    ``service``: exactly one of them. Kept, audited and sent down to the post's site in
    one transaction."""
    service = clean(service, "service", MAX_NAME)
    note = clean(note, "note", MAX_NOTE, lines=True)
    official_id = official_id.strip()
    if bool(official_id) == bool(service):
        raise ForwardRefused(
            _l("Official: choose an official or type a service (one of them)."), "official"
        )
    if official_id:
        chosen = next((o for o in officials(post.site) if str(o["id"]) == official_id), None)
        if chosen is None:
            raise ForwardRefused(_l("Official: not one of this site's officials."), "official")
        to_kind, to_name, to_role = "official", chosen["name"], chosen["role"]
    else:
        to_kind, to_name, to_role = "service", service, ""
    with database.atomic():
        row = PostForward.create(
            post=post,
            uuid=str(uuid.uuid4()),
            to_kind=to_kind,
            to_name=to_name,
            to_role=to_role,
            note=note,
            admin=admin,
        )
        payload = {
            "uuid": row.uuid,
            "post_uuid": post.uuid,
            "to_kind": to_kind,
            "to_name": to_name,
            "to_role": to_role,
            "note": note,
            "created_at": row.created_at.isoformat() + "Z",
        }
        kinds.POST_FORWARDED.validate(payload)
        DownEvent.create(
            site=post.site,
            kind=kinds.POST_FORWARDED.name,
            payload=protocol.canonical(payload).decode(),
        )
        from .service import audit

        audit(
            admin, "post.forward", f"post {post.uuid} of {post.site.slug} to {to_kind} {to_name!r}"
        )
    return row


def latest_by_post(post_ids: list[int]) -> dict[int, PostForward]:
    """The newest forward of each post (the board list shows it)."""
    found: dict[int, PostForward] = {}
    if not post_ids:
        return found
    for row in PostForward.select().where(PostForward.post.in_(post_ids)).order_by(PostForward.id):
        found[row.post_id] = row
    return found
