"""Central's survey pages: the forms the region's boxes received submissions for, a table
per form (photos shown, audio playable), and a CSV export whose columns are the form's
questions in French (UTF-8 with a BOM and ``;``, as French spreadsheets open it)."""

from __future__ import annotations

import csv
import io
import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from peewee import fn

from . import auth, service, surveys_export, surveys_targets
from .admin import csv_cell
from .db import database
from .i18n import _
from .models import Region
from .surveys import SurveyAttachment, SurveyForm, SurveySubmission

bp = Blueprint("central_surveys", __name__, template_folder="templates")

INLINE = ("image/", "audio/", "video/")


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "media-src 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


@bp.before_request
def _csrf() -> None:
    if request.method == "POST":
        auth.check_csrf()


def _site_ids() -> list[int]:
    return [s.id for s in auth.visible_sites()]


def questions(xml: str) -> list[tuple[str, str]]:
    """(path under the root, French label) of each question of an XForm, in order;
    the form's default language when it has no French (surveys_export.describe)."""
    return [(q.path, q.label) for q in surveys_export.describe(xml)]


_values = surveys_export.values


def _latest(form_id: str) -> SurveyForm | None:
    return (
        SurveyForm.select()
        .where(SurveyForm.form_id == form_id)
        .order_by(SurveyForm.published_at.desc())
        .first()
    )


def _form(form_id: str) -> tuple[list[tuple[str, str]], list]:
    latest = _latest(form_id)
    subs = list(
        SurveySubmission.select()
        .where(
            (SurveySubmission.form_id == form_id) & SurveySubmission.site.in_(_site_ids() or [-1])
        )
        .order_by(SurveySubmission.received_at, SurveySubmission.id)
    )
    if latest is not None:
        cols = questions(latest.xml)
    else:  # a form imported at a box from a stick: columns from the submissions
        seen = {}
        for s in subs:
            for path in _values(s.xml):
                if path.split("/")[-1] not in ("instanceID", "deprecatedID"):
                    seen.setdefault(path, path.rsplit("/", 1)[-1])
        cols = list(seen.items())
    return cols, subs


@bp.get("/surveys")
@auth.login_required
def index():
    rows = (
        SurveySubmission.select(SurveySubmission.form_id, fn.COUNT(SurveySubmission.id).alias("n"))
        .where(SurveySubmission.site.in_(_site_ids() or [-1]))
        .group_by(SurveySubmission.form_id)
        .order_by(SurveySubmission.form_id)
    )
    return render_template("central/surveys.html", forms=[(r.form_id, r.n) for r in rows])


@bp.route("/surveys/forwarding", methods=["GET", "POST"])
@auth.login_required
def forwarding():
    """Each region's ODK Central / KoboToolbox server: a regional admin sets their
    region's (the token is never shown back, only its last characters); a national
    viewer sees every region's, read only. Runs: ``central survey-forward --all``."""
    regions = (
        [g.admin.region]
        if g.admin.role == "regional"
        else list(Region.select().order_by(Region.name))
    )
    error, field, values = "", "", {}
    if request.method == "POST":
        if g.admin.role != "regional":
            abort(403, _("national viewers cannot change anything"))
        values = {k: request.form.get(k, "") for k in ("kind", "server", "project", "forms")}
        try:
            with database.atomic():
                target = surveys_targets.configure(
                    g.admin.region,
                    token=request.form.get("token", ""),
                    enabled=request.form.get("enabled") == "1",
                    **values,
                )
                service.audit(
                    g.admin,
                    "survey forwarding set",
                    f"{g.admin.region.name}: {target.kind} {target.server} "
                    f"project {target.project or '-'} forms {target.forms or 'all'} "
                    f"token {surveys_targets.masked(target.token)}",
                )
        except surveys_targets.TargetError as e:
            error, field = str(e.message), e.field
            if field == "server":
                values["server"] = ""  # it may hold a pasted token: never echoed
        else:
            flash(_("Forwarding saved: submissions go at the next scheduled run."))
            return redirect(url_for("central_surveys.forwarding"), code=303)
    targets = {
        t.region_id: t
        for t in surveys_targets.ForwardTarget.select().where(
            surveys_targets.ForwardTarget.region.in_([r.id for r in regions] or [-1])
        )
    }
    return render_template(
        "central/survey_forwarding.html",
        regions=regions,
        targets=targets,
        kinds=surveys_targets.KINDS,
        masked=surveys_targets.masked,
        result_text=surveys_targets.last_result_text,
        error=error,
        field=field,
        values=values,
    ), (400 if error else 200)


@bp.get("/surveys/<form_id>")
@auth.login_required
def table(form_id: str):
    cols, subs = _form(form_id)
    atts = {}
    for a in SurveyAttachment.select().where(
        SurveyAttachment.instance_id.in_([s.instance_id for s in subs] or [""])
    ):
        atts[(a.site_id, a.instance_id, a.name)] = a
    rows = []
    for s in subs:
        values = _values(s.xml)
        cells = []
        for path, _label in cols:
            v = values.get(path, "")
            a = atts.get((s.site_id, s.instance_id, v)) if v else None
            cells.append((v, a))
        rows.append((s, cells))
    return render_template("central/survey_table.html", form_id=form_id, cols=cols, rows=rows)


@bp.get("/surveys/<form_id>.csv")
@auth.login_required
def export(form_id: str):
    """The submissions for a French spreadsheet: UTF-8 with a BOM, ``;``, the form's
    French labels, choices by their labels (as the XLSX), formulas defused."""
    cols, subs = _form(form_id)
    qs = _questions(form_id, cols)
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM as UTF-8
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["site", "instanceID", "reçu le", "enquêteur"] + [q.label for q in qs])
    for s in subs:
        values = _values(s.xml)
        writer.writerow(
            [
                csv_cell(c)
                for c in [s.site.slug, s.instance_id, s.received_at, s.enumerator]
                + [_choice_labels(q, values.get(q.path, "")) for q in qs]
            ]
        )
    return Response(
        out.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={_file_name(form_id)}.csv"},
    )


def _questions(form_id: str, cols: list[tuple[str, str]]) -> list[surveys_export.Question]:
    latest = _latest(form_id)
    if latest is not None:
        return surveys_export.describe(latest.xml)
    # Imported at a box: columns named by the submissions' own elements.
    return [surveys_export.Question(path, label) for path, label in cols]


def _choice_labels(q: surveys_export.Question, raw: str) -> str:
    return str(surveys_export.cell_value(q, raw)) if q.kind.startswith("select") else raw


def _file_name(form_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", form_id)[:80] or "form"


@bp.get("/surveys/<form_id>.xlsx")
@auth.login_required
def export_xlsx(form_id: str):
    """The submissions as an XLSX workbook: the form's French labels, choices by their
    labels, numbers as numbers, attachments as links to this server."""
    cols, subs = _form(form_id)
    qs = _questions(form_id, cols)
    links: dict[tuple[int, str], dict[str, str]] = {}
    for a in SurveyAttachment.select().where(
        SurveyAttachment.instance_id.in_([s.instance_id for s in subs] or [""])
        & SurveyAttachment.site.in_(_site_ids() or [-1])
    ):
        links.setdefault((a.site_id, a.instance_id), {})[a.name] = url_for(
            "central_surveys.attachment", attachment_id=a.id, _external=True
        )
    rows = (
        surveys_export.Row(
            s.site.slug,
            s.instance_id,
            s.received_at,
            s.enumerator,
            s.xml,
            links.get((s.site_id, s.instance_id), {}),
        )
        for s in subs
    )
    header = [_("Site"), "instanceID", _("Received on"), _("Enumerator")]
    body = surveys_export.xlsx(form_id, header, qs, rows)
    name = _file_name(form_id)
    return Response(
        body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={name}.xlsx"},
    )


@bp.get("/surveys/attachments/<int:attachment_id>")
@auth.login_required
def attachment(attachment_id: int):
    a = SurveyAttachment.get_or_none(SurveyAttachment.id == attachment_id)
    if a is None or a.site_id not in _site_ids():
        abort(404)
    from flask import current_app

    path = service.blob_path(current_app.config["DATA_DIR"], a.sha256)
    if not path.exists():
        abort(404)  # its record came, its bytes not yet
    inline = a.mime.startswith(INLINE) and request.args.get("download") is None
    return send_file(
        path, mimetype=a.mime, as_attachment=not inline, download_name=a.name, conditional=True
    )
