"""Field surveys at central: forms published for a region's boxes (``survey.form``,
converted and validated here with the same code as the box, ``sync_contract.xlsform``),
and the submissions and attachments boxes send (``survey.submission``,
``survey.attachment``; the attachments' bytes arrive in the blob store before their
record is acknowledged). Step ``0035_surveys`` makes the tables."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

import peewee

from sync_contract import kinds, protocol
from sync_contract.xlsform import FormRefused, convert

from .db import database
from .handlers import Incoming, Projector, register
from .models import BaseModel, DownEvent, Region, Site, utcnow

MAX_MEDIA_BYTES = 8_000_000  # all of a form's media, carried in the down record

__all__ = ["FormRefused", "publish", "SurveyForm", "SurveySubmission", "SurveyAttachment"]


class SurveyForm(BaseModel):
    form_id = peewee.CharField()
    version = peewee.CharField()
    title = peewee.CharField()
    xml = peewee.TextField()
    region = peewee.ForeignKeyField(Region, null=True, on_delete="CASCADE")
    published_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "survey_form"
        indexes = ((("form_id", "version"), True),)


class SurveySubmission(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    instance_id = peewee.CharField()
    form_id = peewee.CharField()
    version = peewee.CharField()
    xml = peewee.TextField()
    enumerator = peewee.CharField(default="")
    received_at = peewee.CharField()

    class Meta:
        table_name = "survey_submission"
        indexes = ((("site", "instance_id"), True), (("form_id",), False))


class SurveyAttachment(BaseModel):
    site = peewee.ForeignKeyField(Site, on_delete="CASCADE")
    instance_id = peewee.CharField()
    name = peewee.CharField()
    sha256 = peewee.CharField()
    mime = peewee.CharField()
    size = peewee.BigIntegerField()

    class Meta:
        table_name = "survey_attachment"
        indexes = ((("site", "instance_id", "name"), True),)


def publish(
    path: str | Path,
    region: Region | None,
    media_dir: str | Path | None = None,
    state: str = "open",
) -> DownEvent:
    """Convert and validate the XLSForm at ``path`` and send it to the boxes (of
    ``region``) with its media; :class:`FormRefused` names the validator's message,
    sheet and line."""
    path = Path(path)
    form = convert(path)
    folder = Path(media_dir) if media_dir else path.parent
    media, total = [], 0
    for name in form.media:
        file = folder / name
        if not file.is_file():
            raise FormRefused(f"media file {name} is missing beside the form")
        data = file.read_bytes()
        total += len(data)
        media.append(
            {
                "name": name,
                "data": base64.b64encode(data).decode(),
                "mime": mimetypes.guess_type(name)[0] or "application/octet-stream",
            }
        )
    if total > MAX_MEDIA_BYTES:
        raise FormRefused(
            f"the form's media weigh {total // 1_000_000} MB, more than "
            f"{MAX_MEDIA_BYTES // 1_000_000} MB: make them smaller"
        )
    payload = {
        "form_id": form.form_id,
        "version": form.version,
        "title": form.title,
        "xml": form.xml,
        "media": media,
        "state": state,
    }
    kinds.SURVEY_FORM.validate(payload)
    with database.atomic():
        held = SurveyForm.get_or_none(
            (SurveyForm.form_id == form.form_id) & (SurveyForm.version == form.version)
        )
        if held and held.xml != form.xml:
            raise FormRefused(
                f"form {form.form_id} version {form.version!r} was already "
                "published with other questions: give it a new version",
                "settings",
            )
        if held is None:
            SurveyForm.create(
                form_id=form.form_id,
                version=form.version,
                title=form.title,
                xml=form.xml,
                region=region,
            )
        return DownEvent.create(
            region=region, kind=kinds.SURVEY_FORM.name, payload=protocol.canonical(payload).decode()
        )


@register(kinds.SURVEY_SUBMISSION)
def submission(p: Projector, ev: Incoming) -> None:
    pl = ev.payload
    SurveySubmission.insert(
        site=p.site,
        instance_id=pl["instance_id"][:255],
        form_id=pl["form_id"][:255],
        version=pl["version"][:255],
        xml=pl["xml"],
        enumerator=(pl.get("enumerator") or "")[:255],
        received_at=pl["received_at"][:40],
    ).on_conflict_ignore().execute()


@register(kinds.SURVEY_ATTACHMENT)
def attachment(p: Projector, ev: Incoming) -> None:
    pl = ev.payload
    SurveyAttachment.insert(
        site=p.site,
        instance_id=pl["instance_id"][:255],
        name=pl["name"][:255],
        sha256=pl["sha256"],
        mime=pl["mime"][:100],
        size=pl["size"],
    ).on_conflict_ignore().execute()
