"""Central's survey pages: the forms the region's boxes received submissions for, a table
per form (photos shown, audio playable), and a CSV export whose columns are the form's
questions in French (UTF-8 with a BOM and ``;``, as French spreadsheets open it)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET  # noqa: S405  (forms published here; submissions: see _values)

from flask import Blueprint, Response, abort, render_template, request, send_file
from peewee import fn

from . import auth, service
from .admin import csv_cell
from .surveys import SurveyAttachment, SurveyForm, SurveySubmission

bp = Blueprint("central_surveys", __name__, template_folder="templates")

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
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


def _site_ids() -> list[int]:
    return [s.id for s in auth.visible_sites()]


def questions(xml: str) -> list[tuple[str, str]]:
    """(path under the root, French label) of each question of an XForm, in order;
    the English or default label when the form has no French."""
    root = ET.fromstring(xml)  # noqa: S314
    model = root.find(f"{H}head/{XF}model")
    translations = {}
    for tr in model.iter(f"{XF}translation") if model is not None else []:
        texts = {t.get("id"): (t.findtext(f"{XF}value") or "") for t in tr.iter(f"{XF}text")}
        translations[tr.get("lang", "")] = texts
    french = next(
        (t for lang, t in translations.items() if "fr" in lang.lower() or "fran" in lang.lower()),
        None,
    )
    default = next(iter(translations.values()), {})
    labels = {}
    for el in root.find(f"{H}body").iter() if root.find(f"{H}body") is not None else []:
        ref = el.get("ref")
        label = el.find(f"{XF}label")
        if not ref or label is None:
            continue
        itext = label.get("ref") or ""
        if itext.startswith("jr:itext("):
            key = itext[10:-2]
            labels[ref] = (french or {}).get(key) or default.get(key) or ref
        else:
            labels[ref] = (label.text or "").strip() or ref
    instance = model.find(f"{XF}instance") if model is not None else None
    data = instance[0] if instance is not None and len(instance) else None
    out = []

    def walk(el, path):
        for child in el:
            name = child.tag.rsplit("}", 1)[-1]
            sub = f"{path}/{name}"
            if name == "meta":
                continue
            if len(child):
                walk(child, sub)
            else:
                out.append((sub, labels.get(sub, name)))

    if data is not None:
        walk(data, f"/{data.tag.rsplit('}', 1)[-1]}")
    return out


def _values(xml: str) -> dict[str, str]:
    """Leaf values of a submission by path. Boxes refused DOCTYPEs before sending."""
    if "<!DOCTYPE" in xml[:4096].upper() or "<!ENTITY" in xml.upper():
        return {}
    try:
        root = ET.fromstring(xml)  # noqa: S314
    except ET.ParseError:
        return {}
    out = {}

    def walk(el, path):
        for child in el:
            sub = f"{path}/{child.tag.rsplit('}', 1)[-1]}"
            if len(child):
                walk(child, sub)
            else:
                out[sub] = (child.text or "").strip()

    walk(root, f"/{root.tag.rsplit('}', 1)[-1]}")
    return out


def _form(form_id: str) -> tuple[list[tuple[str, str]], list]:
    latest = (
        SurveyForm.select()
        .where(SurveyForm.form_id == form_id)
        .order_by(SurveyForm.published_at.desc())
        .first()
    )
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
    cols, subs = _form(form_id)
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM as UTF-8
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["site", "instanceID", "reçu le", "enquêteur"] + [c[1] for c in cols])
    for s in subs:
        values = _values(s.xml)
        writer.writerow(
            [
                csv_cell(c)
                for c in [s.site.slug, s.instance_id, s.received_at, s.enumerator]
                + [values.get(path, "") for path, _ in cols]
            ]
        )
    return Response(
        out.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={form_id}.csv"},
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
