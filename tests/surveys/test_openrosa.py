"""The box as ODK Collect sees it: every header and status Collect checks, the Digest
challenge and response, manifests whose md5s match the bytes, submissions stored once."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
import xml.etree.ElementTree as ET

import pytest

from .xlsforms import JPEG, PNG, Collect, multipart, submission_xml

NS = {
    "x": "http://openrosa.org/xforms/xformsList",
    "m": "http://openrosa.org/xforms/xformsManifest",
    "r": "http://openrosa.org/http/response",
}


def _count(db, form_id="menage"):
    return db.execute_sql(
        "SELECT COUNT(*) FROM survey_submission WHERE form_id = ?", (form_id,)
    ).fetchone()[0]


def test_every_endpoint_asks_for_digest_and_a_wrong_password_is_refused(box):
    anonymous = Collect(box.url + "/odk")
    for method, path in [
        ("GET", "/formList"),
        ("HEAD", "/submission"),
        ("POST", "/submission"),
        ("GET", "/forms/menage/manifest"),
    ]:
        status, headers, _ = anonymous.request(method, path)
        assert status == 401, path
        assert headers["x-openrosa-version"] == "1.0"
        challenge = headers["www-authenticate"]
        assert challenge.startswith("Digest ") and 'qop="auth"' in challenge
        assert 'realm="espace"' in challenge and "algorithm=MD5" in challenge
    wrong = Collect(box.url + "/odk", "moussa", "not-the-password")
    assert wrong.request("GET", "/formList")[0] == 401
    nobody = Collect(box.url + "/odk", "nobody", "secret-123")
    assert nobody.request("GET", "/formList")[0] == 401


def test_a_replayed_authorization_for_another_uri_is_refused(box, collect):
    assert collect.request("GET", "/formList")[0] == 200
    header = collect._authorization("GET", "/odk/formList")
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(box.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/odk/forms/menage/form.xml", headers={"Authorization": header})
    assert conn.getresponse().status == 401
    conn.close()


def test_form_list_form_and_manifest_as_collect_reads_them(box, collect):
    status, headers, body = collect.request("GET", "/formList")
    assert status == 200
    assert headers["x-openrosa-version"] == "1.0" and "date" in headers
    assert headers["content-type"].startswith("text/xml")
    [xform] = ET.fromstring(body).findall("x:xform", NS)
    assert xform.findtext("x:formID", namespaces=NS) == "menage"
    assert xform.findtext("x:name", namespaces=NS) == "Enquête ménage"
    assert xform.findtext("x:version", namespaces=NS) == "1"
    form_hash = xform.findtext("x:hash", namespaces=NS)
    status, headers, form = collect.request("GET", xform.findtext("x:downloadUrl", namespaces=NS))
    assert status == 200 and headers["x-openrosa-version"] == "1.0"
    assert form_hash == "md5:" + hashlib.md5(form).hexdigest()
    status, headers, manifest = collect.request(
        "GET", xform.findtext("x:manifestUrl", namespaces=NS)
    )
    assert status == 200 and headers["x-openrosa-version"] == "1.0"
    [media] = ET.fromstring(manifest).findall("m:mediaFile", NS)
    assert media.findtext("m:filename", namespaces=NS) == "logo.png"
    status, headers, data = collect.request("GET", media.findtext("m:downloadUrl", namespaces=NS))
    assert status == 200 and data == PNG
    assert media.findtext("m:hash", namespaces=NS) == "md5:" + hashlib.md5(data).hexdigest()
    # ?formID= narrows the list (Collect's "get blank form" for one form)
    assert b"menage" not in collect.request("GET", "/formList?formID=other")[2]


def test_head_submission_is_204_with_the_accepted_length(box, collect, app):
    status, headers, body = collect.request("HEAD", "/submission")
    assert status == 204 and body == b""
    assert headers["x-openrosa-version"] == "1.0"
    assert int(headers["x-openrosa-accept-content-length"]) == app.config["MAX_CONTENT_LENGTH"]
    assert collect.request("GET", "/submission")[0] == 204


def test_a_submission_with_attachments_is_201_and_stored_once(box, collect, db, app):
    from appliance import blobs
    from surveys import submissions

    instance = f"uuid:{uuid.uuid4()}"
    xml = submission_xml(instance=instance)
    files = [("photo.jpg", "image/jpeg", JPEG), ("voix.ogg", "audio/ogg", b"OggS" + b"\0" * 64)]
    status, headers, body = collect.submit(xml, files)
    assert status == 201, body
    assert headers["x-openrosa-version"] == "1.0" and headers["content-type"].startswith("text/xml")
    assert ET.fromstring(body).find("r:message", NS).get("nature") == "submit_success"
    held = submissions.instance(instance)
    assert [a["name"] for a in held["attachments"]] == ["photo.jpg", "voix.ogg"]
    data_dir = app.config["SITE"].data_dir
    assert blobs.path_for(data_dir, held["attachments"][0]["sha256"]).read_bytes() == JPEG
    # Collect lost our answer and sends again: accepted, stored once.
    status, _, body = collect.submit(xml, files)
    assert status in (201, 202) and b"submit_success" in body
    assert _count(db) == 1
    events = [r[0] for r in db.execute_sql("SELECT kind FROM outbox ORDER BY seq")]
    assert events.count("survey.submission") == 1 and events.count("survey.attachment") == 2


def test_a_submission_split_in_two_posts_joins_its_attachments(box, collect, db):
    from surveys import submissions

    instance = f"uuid:{uuid.uuid4()}"
    xml = submission_xml(instance=instance)
    assert collect.submit(xml, [("photo.jpg", "image/jpeg", JPEG)])[0] == 201
    assert collect.submit(xml, [("voix.ogg", "audio/ogg", b"OggS" + b"1" * 10)])[0] == 201
    assert len(submissions.instance(instance)["attachments"]) == 2 and _count(db) == 1


@pytest.mark.parametrize(
    ("xml", "status", "says"),
    [
        (b"<data id='menage'><nom>Awa", 400, "malformed"),
        (b'<!DOCTYPE d [<!ENTITY a "aaaa">]><data id="menage">&a;</data>', 400, "DOCTYPE"),
        (submission_xml(form_id="inconnu"), 404, "no form"),
        (submission_xml(version="0"), 409, "version"),
        (b'<data id="menage" version="1"><nom/></data>', 400, "instanceID"),
    ],
)
def test_bad_submissions_are_refused_with_an_openrosa_message(box, collect, db, xml, status, says):
    got, headers, body = collect.submit(xml)
    assert got == status and headers["x-openrosa-version"] == "1.0"
    assert says in ET.fromstring(body).findtext("r:message", namespaces=NS)
    assert _count(db) == 0


def test_wrong_media_types_are_refused(box, collect, db):
    for name, mime, data in [
        ("x.html", "text/html", b"<script>alert(1)</script>"),
        ("photo.jpg", "image/jpeg", b"MZ\x90\x00 not a jpeg"),
        ("../../etc/passwd", "image/png", PNG),
    ]:
        status, _, body = collect.submit(submission_xml(), [(name, mime, data)])
        assert status in (400, 415), (name, status, body)
    body, ctype = multipart([("xml_submission_file", "s.xml", "text/html", submission_xml())])
    assert collect.request("POST", "/submission", body, {"Content-Type": ctype})[0] == 415
    assert _count(db) == 0


def test_a_closed_form_takes_no_submission(box, collect, db):
    from surveys import forms

    forms.set_state("menage", "closed")
    status, _, body = collect.submit(submission_xml())
    assert status == 403 and b"closed" in body
    assert b"menage" not in collect.request("GET", "/formList")[2]


def test_a_phone_with_the_old_version_can_still_submit(box, collect, db, app, tmp_path):
    from surveys import forms

    from .xlsforms import write_xlsform

    forms.import_xlsform(
        app.config["SITE"].data_dir, write_xlsform(tmp_path / "v2" / "menage.xlsx", version="2")
    )
    assert b"<version>2</version>" in collect.request("GET", "/formList")[2]
    assert collect.submit(submission_xml(version="1"))[0] == 201  # filled before the change
    row = db.execute_sql("SELECT version FROM survey_submission").fetchone()
    assert row[0] == "1"


def test_a_50_mb_attachment_is_refused_cleanly(box, collect, db, app):
    import http.client
    from urllib.parse import urlsplit

    collect.request("HEAD", "/submission")
    big = 50 * 1024 * 1024
    head, ctype = multipart([("xml_submission_file", "s.xml", "text/xml", submission_xml())])
    parts = urlsplit(box.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.putrequest("POST", "/odk/submission")
    conn.putheader("Content-Type", ctype)
    conn.putheader("Content-Length", str(len(head) + big))
    conn.putheader("Authorization", collect._authorization("POST", "/odk/submission"))
    conn.putheader("X-OpenRosa-Version", "1.0")
    conn.endheaders()
    with contextlib.suppress(OSError):  # waitress answers from the headers alone
        conn.send(head[:1000])
    resp = conn.getresponse()
    assert resp.status == 413
    resp.read()
    conn.close()
    assert _count(db) == 0


def test_an_old_nonce_with_the_right_password_is_answered_stale(box, collect, app):
    """Collect retries at once, without asking the enumerator, on stale=true."""
    from surveys import digest

    secret = app.config["SECRET_KEY"]
    stamp = f"{1_000_000_000}.abcd1234"  # 2001: far older than a day
    collect.challenge = {
        "realm": digest.REALM,
        "nonce": f"{stamp}.{digest._sign(secret, stamp)}",
        "opaque": "",
    }
    status, headers, _ = collect.raw("GET", "/formList")
    assert status == 401 and "stale=true" in headers["www-authenticate"]
    assert collect.request("GET", "/formList")[0] == 200  # the new nonce works
    forged = {"realm": digest.REALM, "nonce": f"{stamp}.{'0' * 32}", "opaque": ""}
    collect.challenge = forged
    status, headers, _ = collect.raw("GET", "/formList")
    assert status == 401 and "stale=true" not in headers["www-authenticate"]
