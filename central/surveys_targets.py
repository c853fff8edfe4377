"""Each region's ODK Central or KoboToolbox server, where its survey submissions are
forwarded on a schedule (``central survey-forward --all``, run by the systemd timer
``central-survey-forward.timer``; docs/surveys.md says why a timer rather than a
scheduler in the web processes).

A region has at most one target (step ``0065_survey_forward_targets``): the server's
address, its project (ODK Central) and, optionally, the forms to send (all by default).
The app user's token is a secret: kept in the database, sent only to that server,
never logged, never shown back in full (:func:`masked`), and removed from anything a
run reports (:func:`redact`). Each run's outcome is kept on the row, so the page and
the CLI say, per region, that a token was refused, without the token.

What the server acknowledged is remembered per (region, kind, server, project), not per
token: a new token resumes where the old one stopped; another server starts afresh.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import peewee

from .db import database
from .i18n import _, _l
from .models import BaseModel, Region, Site, utcnow
from .surveys_forward import Run, forward

KINDS = {"odk-central": "ODK Central", "kobo": "KoboToolbox"}
# ODK Central's app-user tokens are 64 characters of [A-Za-z0-9!$]; KoboToolbox's API
# tokens 40 hex digits. Anything else (spaces, slashes, quotes) is refused: it could
# not be sent as typed, and would end up in an error message.
TOKEN = re.compile(r"[A-Za-z0-9!$._~-]{16,200}")
FORM_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,254}")


class TargetError(ValueError):
    """A target's field is wrong: ``field`` names it, the message says the fix."""

    def __init__(self, field: str, message) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


class ForwardTarget(BaseModel):
    region = peewee.ForeignKeyField(Region, unique=True, on_delete="CASCADE")
    kind = peewee.CharField()
    server = peewee.CharField(max_length=1000)
    project = peewee.CharField(default="")
    forms = peewee.TextField(default="")  # form ids, comma-separated; empty: every form
    token = peewee.TextField()
    enabled = peewee.BooleanField(default=True)
    updated_at = peewee.DateTimeField(default=utcnow)
    last_run_at = peewee.DateTimeField(null=True)
    last_ok = peewee.BooleanField(null=True)
    last_result = peewee.TextField(default="")  # JSON: the last run's counts, no token

    class Meta:
        table_name = "survey_forward_target"

    @property
    def form_ids(self) -> list[str]:
        return [f for f in self.forms.split(",") if f]

    @property
    def key(self) -> str:
        """Its name in ``survey_forwarded``: no token in it."""
        return f"region:{self.region_id}:{self.kind}:{self.server}:{self.project}"

    def url(self) -> str:
        """Where submissions go (``/submission`` is added when sending). ODK Central
        takes the token in the path, KoboToolbox in a header (:meth:`headers`)."""
        if self.kind == "odk-central":
            # TOKEN's characters are all safe in a path: the token goes as issued.
            return f"{self.server}/v1/key/{self.token}/projects/{self.project}"
        return self.server

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"} if self.kind == "kobo" else {}


def create_table(db: peewee.Database) -> None:
    """Step 0065: the table as it is at that step (SQL, both databases)."""
    pg = isinstance(db, peewee.PostgresqlDatabase)
    ident = "SERIAL PRIMARY KEY" if pg else "INTEGER NOT NULL PRIMARY KEY"
    db.execute_sql(
        f"CREATE TABLE survey_forward_target (id {ident}, "
        "region_id INTEGER NOT NULL UNIQUE REFERENCES region (id) ON DELETE CASCADE, "
        "kind VARCHAR(255) NOT NULL, server VARCHAR(1000) NOT NULL, "
        "project VARCHAR(255) NOT NULL DEFAULT '', forms TEXT NOT NULL DEFAULT '', "
        "token TEXT NOT NULL, enabled BOOLEAN NOT NULL DEFAULT TRUE, "
        "updated_at TIMESTAMP NOT NULL, last_run_at TIMESTAMP, last_ok BOOLEAN, "
        "last_result TEXT NOT NULL DEFAULT '')"
    )


def masked(token: str) -> str:
    """What a page may show of a token: its last four characters."""
    return "••••" + token[-4:] if len(token) >= 16 else "••••"


def redact(text: str, token: str) -> str:
    """``text`` without ``token`` (as typed or URL-encoded) anywhere in it."""
    for form in {token, quote(token, safe="")}:
        if form:
            text = text.replace(form, masked(token))
    return text


def _server(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError("server", _l("Give the server's address, beginning with https://"))
    if parts.username or parts.password or parts.query or parts.fragment:
        raise TargetError(
            "server",
            _l("Give only the server's address: the token goes in its own field"),
        )
    if "/key/" in parts.path:
        raise TargetError(
            "server", _l("This address holds a token: give the server's address only")
        )
    return value


def configure(
    region: Region,
    kind: str,
    server: str,
    project: str = "",
    forms: str = "",
    token: str = "",
    enabled: bool = True,
) -> ForwardTarget:
    """Set ``region``'s target. An empty ``token`` keeps the one held (a page never
    sends it back); a new target needs one."""
    if kind not in KINDS:
        raise TargetError("kind", _l("Choose ODK Central or KoboToolbox"))
    server = _server(server)
    project = project.strip()
    if kind == "odk-central" and not re.fullmatch(r"[1-9][0-9]{0,8}", project):
        raise TargetError("project", _l("Give the ODK Central project's number, e.g. 3"))
    ids = [f.strip() for f in re.split(r"[,\s]+", forms) if f.strip()]
    bad = [f for f in ids if not FORM_ID.fullmatch(f)]
    if bad:
        raise TargetError("forms", _l("Not a form id: %(id)s", id=bad[0][:60]))
    token = token.strip()
    held = ForwardTarget.get_or_none(ForwardTarget.region == region)
    if token and not TOKEN.fullmatch(token):
        raise TargetError(
            "token", _l("This is not a token: copy the app user's token (letters and digits)")
        )
    if not token and held is None:
        raise TargetError("token", _l("Give the app user's token"))
    fields = {
        "kind": kind,
        "server": server,
        "project": project if kind == "odk-central" else "",
        "forms": ",".join(ids),
        "enabled": enabled,
        "updated_at": utcnow(),
    }
    with database.atomic():
        if held is None:
            return ForwardTarget.create(region=region, token=token, **fields)
        if token:
            fields["token"] = token
        ForwardTarget.update(**fields).where(ForwardTarget.id == held.id).execute()
    return ForwardTarget.get_by_id(held.id)


@dataclass
class Outcome:
    region: str
    run: Run
    message: str
    ok: bool


def describe_run(run: Run) -> tuple[bool, str]:
    """(succeeded, what to tell the admin) in English, as the CLI and the row keep it."""
    counts = f"forwarded {run.sent}, already there {run.duplicates}, refused {run.refused}"
    if run.status in (401, 403):
        return False, (
            f"{counts}; the server refused the token (HTTP {run.status}): "
            "check the app user's token and its access to the project"
        )
    if run.stopped:
        return False, f"{counts}; stopped: {run.stopped} (the next run resumes)"
    return True, counts


def last_result_text(target: ForwardTarget) -> str:
    """The last run's outcome in the reader's language (the page's)."""
    try:
        r = json.loads(target.last_result or "{}")
    except ValueError:
        return ""
    text = _(
        "%(sent)d sent, %(dup)d already there, %(refused)d refused",
        sent=r.get("sent", 0),
        dup=r.get("duplicates", 0),
        refused=r.get("refused", 0),
    )
    if r.get("status") in (401, 403):
        return (
            text
            + " · "
            + _(
                "the server refused the token (HTTP %(status)d): check the app user's token "
                "and its access to the project",
                status=r["status"],
            )
        )
    if r.get("stopped"):
        return (
            text
            + " · "
            + _("stopped (%(why)s): the next run resumes", why=redact(r["stopped"], target.token))
        )
    return text


def run_target(target: ForwardTarget, data_dir: Path, timeout: float = 30.0) -> Outcome:
    """Forward ``target``'s region's submissions; keep and return the outcome (the
    token is never in it)."""
    sites = [s.id for s in Site.select(Site.id).where(Site.region == target.region_id)]
    run = forward(
        target.url(),
        data_dir,
        sites,
        timeout,
        key=target.key,
        headers=target.headers(),
        form_ids=target.form_ids,
    )
    run.stopped = redact(run.stopped, target.token)
    ok, message = describe_run(run)
    message = redact(message, target.token)
    result = {
        "sent": run.sent,
        "duplicates": run.duplicates,
        "refused": run.refused,
        "status": run.status,
        "stopped": run.stopped[:500],
    }
    ForwardTarget.update(
        last_run_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        last_ok=ok,
        last_result=json.dumps(result),
    ).where(ForwardTarget.id == target.id).execute()
    return Outcome(target.region.name, run, message, ok)


def run_all(data_dir: Path, timeout: float = 30.0) -> list[Outcome]:
    """Every enabled region's target in turn; one region's failure stops only its own
    run."""
    targets = (
        ForwardTarget.select(ForwardTarget, Region)
        .join(Region)
        .where(ForwardTarget.enabled)
        .order_by(Region.name)
    )
    return [run_target(t, data_dir, timeout) for t in targets]
