"""The OpenRosa server ODK Collect and KoboCollect talk to: the server URL to give them
is ``http://<box>/odk`` (they add ``/formList`` and ``/submission``).

What Collect enforces, and this answers: ``X-OpenRosa-Version: 1.0`` on every response
(Collect refuses a response without it), a ``Date`` header, ``md5:`` hashes in the form
list and manifests (Collect downloads again only what changed), ``HEAD /submission``
answered 204 with ``X-OpenRosa-Accept-Content-Length`` (Collect splits larger
submissions into several POSTs, each with the same XML), 201 with an OpenRosa XML body
for a stored submission (202 when everything in it was already here: Collect treats both
as sent), and Digest authentication (over plain HTTP Collect sends no Basic password).
"""

from __future__ import annotations

import functools
from email.utils import formatdate
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from appliance import blobs

from . import digest, forms, submissions

bp = Blueprint("openrosa", __name__, url_prefix="/odk")

OPENROSA = {"X-OpenRosa-Version": "1.0"}
XML_TYPE = "text/xml; charset=utf-8"


def _headers(extra: dict | None = None) -> dict:
    return {**OPENROSA, "Date": formatdate(usegmt=True), **(extra or {})}


def accept_length() -> int:
    """The largest body this box reads (the app's limit; waitress agrees)."""
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 10_000_000)


def message(status: int, text: str, nature: str = "") -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
        f"<message{f' nature={chr(34)}{nature}{chr(34)}' if nature else ''}>"
        f"{escape(text)}</message></OpenRosaResponse>"
    )
    return Response(body, status, _headers(), content_type=XML_TYPE)


def _uri_ok(uri: str) -> bool:
    """The digest's ``uri`` is this request's path (with its query), absolute or not."""
    if "://" in uri:
        uri = "/" + uri.split("://", 1)[1].partition("/")[2]
    return uri in (request.path, request.full_path.rstrip("?"))


def enumerator_required(view):
    """Digest (RFC 7616): a 401 with a fresh challenge until the enumerator proves it."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        secret = current_app.config["SECRET_KEY"]
        user, stale = digest.check(
            secret, request.headers.get("Authorization", ""), request.method, _uri_ok
        )
        if user is None:
            resp = message(401, "an enumerator's name and password are needed")
            resp.headers["WWW-Authenticate"] = digest.challenge(secret, stale=stale)
            return resp
        request.environ["espace.enumerator"] = user
        return view(*args, **kwargs)

    return wrapped


@bp.get("/formList")
@enumerator_required
def form_list():
    only = request.args.get("formID", "")
    items = []
    for f in forms.forms(open_only=True):
        if only and f["form_id"] != only:
            continue
        fid = f["form_id"]
        manifest = (
            (
                f"<manifestUrl>{escape(url_for('.manifest', form_id=fid, _external=True))}"
                "</manifestUrl>"
            )
            if f["media"]
            else ""
        )
        items.append(
            f"<xform><formID>{escape(fid)}</formID><name>{escape(f['title'] or fid)}</name>"
            f"<version>{escape(f['version'])}</version><hash>md5:{f['md5']}</hash>"
            f"<descriptionText></descriptionText>"
            f"<downloadUrl>{escape(url_for('.form_xml', form_id=fid, _external=True))}"
            f"</downloadUrl>{manifest}</xform>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xforms xmlns="http://openrosa.org/xforms/xformsList">' + "".join(items) + "</xforms>"
    )
    return Response(body, 200, _headers(), content_type=XML_TYPE)


def _form_or_404(form_id: str) -> dict | Response:
    form = forms.current(form_id)
    if form is None:
        return message(404, f"no form {form_id!r} on this box")
    return form


@bp.get("/forms/<form_id>/form.xml")
@enumerator_required
def form_xml(form_id: str):
    form = _form_or_404(form_id)
    if isinstance(form, Response):
        return form
    return Response(form["xml"], 200, _headers(), content_type=XML_TYPE)


@bp.get("/forms/<form_id>/manifest")
@enumerator_required
def manifest(form_id: str):
    form = _form_or_404(form_id)
    if isinstance(form, Response):
        return form
    files = "".join(
        f"<mediaFile><filename>{escape(m['name'])}</filename><hash>md5:{m['md5']}</hash>"
        f"<downloadUrl>{escape(url_for('.media', form_id=form_id, name=m['name'], _external=True))}"
        "</downloadUrl></mediaFile>"
        for m in forms.media_of(form_id)
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest xmlns="http://openrosa.org/xforms/xformsManifest">{files}</manifest>'
    )
    return Response(body, 200, _headers(), content_type=XML_TYPE)


@bp.get("/forms/<form_id>/media/<name>")
@enumerator_required
def media(form_id: str, name: str):
    for m in forms.media_of(form_id):
        if m["name"] == name:
            path = blobs.path_for(current_app.config["SITE"].data_dir, m["sha256"])
            resp = send_file(path, mimetype=m["mime"], download_name=name, conditional=True)
            resp.headers.update(_headers())
            return resp
    return message(404, f"no media {name!r} for form {form_id!r}")


@bp.route("/submission", methods=["HEAD", "GET"])
@enumerator_required
def submission_probe():
    return Response(
        b"",
        204,
        _headers(
            {
                "X-OpenRosa-Accept-Content-Length": str(accept_length()),
                "Location": url_for(".submission", _external=True),
            }
        ),
    )


@bp.post("/submission")
@enumerator_required
def submission():
    limit = accept_length()
    if request.content_length is not None and request.content_length > limit:
        return message(
            413,
            f"the submission is larger than {limit // 1_000_000} MB: "
            "Collect sends it in parts when told the limit",
        )
    if not request.mimetype.startswith("multipart/"):
        return message(415, "a submission is multipart/form-data with xml_submission_file")
    try:
        files = request.files
    except RequestEntityTooLarge:
        return message(413, f"the submission is larger than {limit // 1_000_000} MB")
    xml_part = files.get("xml_submission_file")
    if xml_part is None:
        return message(400, "the submission has no xml_submission_file part")
    xml_type = (xml_part.mimetype or "text/xml").lower()
    if xml_type not in submissions.XML_TYPES and xml_type != "application/octet-stream":
        return message(415, f"the xml_submission_file part is {xml_type}, not text/xml")
    xml = xml_part.stream.read(submissions.MAX_XML_BYTES + 1)
    attachments = [
        submissions.Attachment(f.filename or key, f.mimetype, f.stream)
        for key, f in files.items(multi=True)
        if key != "xml_submission_file"
    ]
    try:
        result = submissions.store(
            current_app.config["SITE"].data_dir,
            xml,
            attachments,
            request.environ.get("espace.enumerator", ""),
            limit,
        )
    except submissions.Refused as e:
        return message(e.status, e.message)
    text = "Form received." if result.status == 201 else "This form was already received."
    resp = message(result.status, text, "submit_success")
    resp.headers["Location"] = url_for(".submission", _external=True)
    return resp
