"""Forwarding a region's submissions to an ODK Central or KoboToolbox server, as ODK
Collect would send them (OpenRosa: a multipart POST of the XML and its attachments to
``<server>/submission``; for ODK Central, the app user's token URL
``https://host/v1/key/<token>/projects/<n>``). 201 and 202 are success, and so is 409:
the server already has that instanceID (our previous run's answer was lost). A cut
link or a 5xx stops the run; the next run resumes with what was not acknowledged
(step ``0036_survey_forwarding`` remembers each one forwarded, per target).

A region's own server, its token kept as a secret, is configured and run on a schedule
by :mod:`central.surveys_targets`; the CLI's ``central survey-forward TARGET`` calls
:func:`forward` directly."""

from __future__ import annotations

import hashlib
import http.client
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .db import database
from .service import blob_path
from .surveys import SurveyAttachment, SurveySubmission

OK = {201, 202, 409}


@dataclass
class Run:
    sent: int = 0
    duplicates: int = 0
    refused: int = 0
    stopped: str = ""
    status: int = 0  # the HTTP status that stopped the run (401/403: the token)


def _multipart(xml: bytes, files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [("xml_submission_file", "submission.xml", "text/xml", xml)] + [
        (name, name, mime, data) for name, mime, data in files
    ]
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{fname}"\r\nContent-Type: {mime}\r\n\r\n'.encode()
            + data
            + b"\r\n"
            for field, fname, mime, data in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _post(
    url: str, body: bytes, ctype: str, timeout: float, headers: dict[str, str] | None = None
) -> int:
    parts = urlsplit(url.rstrip("/") + "/submission")
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(
            "POST",
            parts.path + (f"?{parts.query}" if parts.query else ""),
            body,
            {"Content-Type": ctype, "X-OpenRosa-Version": "1.0", **(headers or {})},
        )
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


TOKEN_IN_PATH = re.compile(r"/key/([^/]+)/")


def target_key(target: str) -> str:
    """``target`` as ``survey_forwarded`` names it: an ODK Central app user's token in
    the URL replaced by a hash of it, so the token is not copied into another table."""
    return TOKEN_IN_PATH.sub(
        lambda m: "/key/sha256:" + hashlib.sha256(m.group(1).encode()).hexdigest()[:16] + "/",
        target,
    )


def pending(
    target: str, site_ids: list[int], limit: int = 100, form_ids: list[str] | None = None
) -> list[SurveySubmission]:
    done = database.execute_sql(
        "SELECT site_id, instance_id FROM survey_forwarded WHERE target = ?".replace(
            "?", database.param
        ),
        (target,),
    )
    held = {(r[0], r[1]) for r in done}
    query = (
        SurveySubmission.select()
        .where(SurveySubmission.site.in_(site_ids or [-1]))
        .order_by(SurveySubmission.id)
    )
    if form_ids:
        query = query.where(SurveySubmission.form_id.in_(form_ids))
    return [s for s in query if (s.site_id, s.instance_id) not in held][:limit]


def forward(
    target: str,
    data_dir: Path,
    site_ids: list[int],
    timeout: float = 30.0,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    form_ids: list[str] | None = None,
) -> Run:
    """Send what ``target`` has not acknowledged yet; stop at the first cut.

    ``key`` names the target in ``survey_forwarded`` (default: ``target`` itself; a
    configured region passes one without its token), ``headers`` go with every POST
    (KoboToolbox's ``Authorization: Token``), ``form_ids`` limits the forms sent."""
    run = Run()
    key = key or target
    for sub in pending(key, site_ids, form_ids=form_ids):
        atts = SurveyAttachment.select().where(
            (SurveyAttachment.site == sub.site_id)
            & (SurveyAttachment.instance_id == sub.instance_id)
        )
        files = []
        for a in atts:
            path = blob_path(data_dir, a.sha256)
            if not path.exists():
                break  # its bytes are not here yet: forwarded once they are
            files.append((a.name, a.mime, path.read_bytes()))
        else:
            body, ctype = _multipart(sub.xml.encode(), files)
            try:
                status = _post(target, body, ctype, timeout, headers)
            except (OSError, http.client.HTTPException) as e:
                # A cut mid-answer is an HTTPException (BadStatusLine, IncompleteRead),
                # not an OSError: the same stop, resumed by the next run.
                run.stopped = f"link: {e.__class__.__name__}: {e}"
                return run
            if status in OK:
                with database.atomic():
                    database.execute_sql(
                        "INSERT INTO survey_forwarded (target, site_id, instance_id, status) "
                        "VALUES (?, ?, ?, ?)".replace("?", database.param),
                        (key, sub.site_id, sub.instance_id, status),
                    )
                run.sent += status != 409
                run.duplicates += status == 409
            elif status >= 500 or status in (401, 403, 429):
                run.stopped = f"HTTP {status}"
                run.status = status
                return run
            else:
                run.refused += 1  # the server will never take it: reported, not retried now
    return run
