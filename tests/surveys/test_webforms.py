"""The browser's forms (/forms) through Flask's client: who may fill and send, the
vendored files and their caching, the form in the visitor's language, submissions
through the same storage as Collect's, refusals in the visitor's language."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import uuid
from pathlib import Path

import pytest

from .xlsforms import JPEG, submission_xml

VENDOR = Path(__file__).resolve().parents[2] / "surveys" / "static" / "vendor"


@pytest.fixture
def form(app, db, form_file):
    from surveys import digest, forms

    forms.import_xlsform(app.config["SITE"].data_dir, form_file)
    digest.add_enumerator("moussa", "secret-123")
    return "menage"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def login(client, name="moussa", password="secret-123", next_="/forms/menage/"):
    token = csrf_of(client.get("/forms/login").get_data(as_text=True))
    return client.post(
        "/forms/login", data={"username": name, "password": password, "csrf": token, "next": next_}
    )


def page_data(client, form_id="menage") -> dict:
    page = client.get(f"/forms/{form_id}/").get_data(as_text=True)
    raw = re.search(
        r'<script type="application/json" id="webform-data">(.*?)</script>', page, re.S
    ).group(1)
    return json.loads(raw)


def test_vendored_files_match_their_manifest_and_licences():
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    assert {p["package"]: p["version"] for p in manifest["packages"]} == {
        "@getodk/web-forms": "0.22.0",
        "vue": "3.5.45",
    }
    for name, meta in manifest["files"].items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
        assert len(data) == meta["bytes"], name
    assert "Apache License" in (VENDOR / "web-forms-0.22.0/LICENSE").read_text()
    assert "MIT" in (VENDOR / "vue-3.5.45/LICENSE").read_text()
    # What a phone downloads for its first form (the map chunk loads only for map
    # questions): Web Forms bundles PrimeVue, its fonts and the XPath engine.
    from surveys import web_assets

    first = sum(web_assets.first_load_bytes().values())
    assert 1_000_000 < first < 1_500_000


def test_a_form_is_for_enumerators_until_the_box_opens_it_to_all(client, form):
    from surveys import forms

    listing = client.get("/forms/").get_data(as_text=True)
    assert 'data-form="menage"' in listing and "Enquête ménage" in listing
    r = client.get("/forms/menage/")
    assert r.status_code == 302 and "/forms/login" in r.headers["Location"]
    assert client.get("/forms/menage/form.xml").status_code == 403
    xml = submission_xml()
    r = client.post(
        "/forms/menage/submission",
        data={"xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml")},
    )
    assert r.status_code == 403

    forms.set_public("menage", True)
    assert client.get("/forms/menage/").status_code == 200
    assert client.get("/forms/menage/form.xml").status_code == 200


def test_enumerator_login_wrong_password_then_right(client, form):
    r = login(client, password="wrong-one")
    assert r.status_code == 400
    assert "do not match" in r.get_data(as_text=True) or "ne correspondent" in r.get_data(
        as_text=True
    )
    r = login(client)
    assert r.status_code == 302 and r.headers["Location"].endswith("/forms/menage/")
    data = page_data(client)
    assert data["username"] == "moussa"
    assert data["submit"] == "/forms/menage/submission"
    assert client.get("/forms/menage/form.xml").status_code == 200


def test_login_next_cannot_leave_the_forms(client, form):
    r = login(client, next_="//evil.example/x")
    assert r.headers["Location"].endswith("/forms/")


def test_page_loads_web_forms_by_import_map_with_immutable_assets(client, form):
    from surveys import forms

    forms.set_public("menage", True)
    page = client.get("/forms/menage/").get_data(as_text=True)
    imports = json.loads(
        re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1)
    )["imports"]
    assert imports["vue"].endswith("/vue.runtime.esm-browser.prod.js")
    r = client.get(imports["@getodk/web-forms"], headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert "immutable" in r.headers["Cache-Control"]
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert gzip.decompress(r.data) == (VENDOR / "web-forms-0.22.0/index.js").read_bytes()
    etag = r.headers["ETag"]
    assert client.get(imports["vue"], headers={"If-None-Match": etag}).status_code == 200
    assert (
        client.get(imports["@getodk/web-forms"], headers={"If-None-Match": etag}).status_code == 304
    )
    # Our own scripts: a URL with their hash; an old hash is gone, never a path.
    shim = re.search(r'<script src="([^"]+secure-shims.js)"', page).group(1)
    assert client.get(shim).status_code == 200
    assert client.get("/forms/assets/own-000000000000/secure-shims.js").status_code == 404
    assert client.get("/forms/assets/../webforms.py").status_code == 404
    assert client.get("/forms/assets/web-forms-0.22.0/LICENSE").status_code == 404


def test_form_is_shown_in_the_visitors_language(client, form):
    from surveys import forms, webforms

    forms.set_public("menage", True)
    client.set_cookie("lang", "en")
    xml = client.get("/forms/menage/form.xml").get_data(as_text=True)
    assert re.search(r'<translation default="true\(\)" lang="English \(en\)"', xml)
    assert not re.search(r'<translation[^>]*lang="French \(fr\)"[^>]*default', xml)
    assert webforms.form_language(xml, "bm") is None
    client.set_cookie("lang", "bm")
    page = client.get("/forms/menage/").get_data(as_text=True)
    assert 'id="not-in-language"' in page


# What the bundle's extraction finds that Web Forms 0.22 never shows, and why.
NEVER_SHOWN = {
    # UnsupportedAppearance renders only when a function hard-coded to return false does.
    "Unsupported appearance",
    "for the",
    # A GeoJSON geometry type compared in code; an exception of the XPath parser's wasm.
    "Polygon",
    "Unable to grow wasm table. Set ALLOW_TABLE_GROWTH.",
}


def in_language(app, lang: str, words):
    from flask import g

    from appliance.languages import LANGUAGES

    with app.test_request_context("/forms/"):
        g.language, g.lang = LANGUAGES[lang], lang
        return words()


def web_forms_words(app, lang: str) -> dict[str, str]:
    from surveys import webforms

    return in_language(app, lang, webforms._web_forms_words)


def strings_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in strings_of(v)] if isinstance(value, list) else []


@pytest.mark.parametrize("lang", ["bm", "snk", "ff", "fr"])
def test_every_word_of_web_forms_has_the_visitors_translation(app, client, form, lang):
    """Each English string of the vendored Web Forms (read from its bundle) is one the
    page replaces, in each language of the field: a newer Web Forms' new words fail here."""
    from surveys import forms

    from .web_forms_english import web_forms_own

    forms.set_public("menage", True)
    client.set_cookie("lang", "bm")
    assert page_data(client)["words"] == web_forms_words(app, "bm")  # what the page gets
    words = web_forms_words(app, lang)
    assert web_forms_own() >= NEVER_SHOWN
    missing = [
        s
        for s in web_forms_own() - NEVER_SHOWN
        if s not in words and not any(s in key.replace("{n}", "") for key in words)
    ]
    assert not missing, f"Web Forms words the page does not replace: {sorted(missing)}"
    # Not English, nor the French a draft falls back to (marked by \ue000).
    english = {k: v for k, v in words.items() if v == k or "\ue000" in v}
    assert not english, english
    # A sentence around a number keeps the number where the English msgid does.
    msgids = web_forms_words(app, "en")
    lost = [k for k, v in words.items() if v.count("{n}") != msgids[k].count("{n}")]
    assert not lost, lost
    # PrimeVue's words (the date picker's months and buttons, empty lists).
    from surveys import webforms

    from .web_forms_english import english

    locale = in_language(app, lang, webforms._primevue_locale)
    assert len(locale["monthNames"]) == 12 and len(locale["dayNamesMin"]) == 7
    # (Abbreviations apart: Bambara's "Mar" for marisi is also English's for March.)
    short = ("monthNamesShort", "dayNamesShort", "dayNamesMin")
    shown = strings_of({k: v for k, v in locale.items() if k not in short})
    assert not set(shown) & english() and not any("\ue000" in s for s in shown)


def test_browser_submission_goes_through_collects_storage(app, client, form):
    from surveys import submissions

    login(client)
    token = page_data(client)["csrf"]
    instance = f"uuid:{uuid.uuid4()}"
    xml = submission_xml(instance=instance, nom="<script>alert(1)</script>")
    body = {
        "xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml"),
        "photo.jpg": (io.BytesIO(JPEG), "photo.jpg", "image/jpeg"),
        "csrf": token,
    }
    r = client.post("/forms/menage/submission", data=dict(body))
    assert r.status_code == 201 and r.json["ok"]
    held = submissions.instance(instance)
    assert held["form_id"] == "menage" and [a["name"] for a in held["attachments"]] == ["photo.jpg"]
    # Sent again (the answer was lost): accepted once.
    body["xml_submission_file"] = (io.BytesIO(xml), "xml_submission_file", "text/xml")
    body["photo.jpg"] = (io.BytesIO(JPEG), "photo.jpg", "image/jpeg")
    assert client.post("/forms/menage/submission", data=body).status_code == 202
    assert submissions.counts() == {"menage": 1}
    from appliance.db import database

    enumerator = database.execute_sql(
        "SELECT enumerator FROM survey_submission WHERE instance_id = ?", (instance,)
    ).fetchone()[0]
    assert enumerator == "moussa"


def test_refusals_are_in_the_visitors_language(app, client, form):
    from surveys import forms

    forms.set_public("menage", True)
    token = page_data(client)["csrf"]
    xml = submission_xml()
    # No CSRF token: refused.
    r = client.post(
        "/forms/menage/submission",
        data={"xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml")},
    )
    assert r.status_code == 400 and not r.json["ok"]
    # A photo that is not one.
    r = client.post(
        "/forms/menage/submission",
        data={
            "xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml"),
            "photo.jpg": (io.BytesIO(b"MZ not a jpeg"), "photo.jpg", "image/jpeg"),
            "csrf": token,
        },
    )
    assert r.status_code == 415 and "photo" in r.json["message"]
    # Too large: said in French, with the limit.
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    r = client.post(
        "/forms/menage/submission",
        data={
            "xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml"),
            "voix.ogg": (io.BytesIO(b"OggS" + bytes(120_000)), "voix.ogg", "audio/ogg"),
            "csrf": token,
        },
    )
    assert r.status_code == 413
    assert "0.1" in r.json["message"]
    # A form changed while the phone was filling it.
    r = client.post(
        "/forms/menage/submission",
        data={
            "xml_submission_file": (
                io.BytesIO(submission_xml(version="0")),
                "xml_submission_file",
                "text/xml",
            ),
            "csrf": token,
        },
    )
    assert r.status_code == 409
    # Another form's XML at this form's address.
    r = client.post(
        "/forms/menage/submission",
        data={
            "xml_submission_file": (
                io.BytesIO(submission_xml(form_id="autre")),
                "xml_submission_file",
                "text/xml",
            ),
            "csrf": token,
        },
    )
    assert r.status_code == 400
    # A closed form.
    forms.set_state("menage", "closed")
    assert client.get("/forms/menage/").status_code == 404
    r = client.post(
        "/forms/menage/submission",
        data={
            "xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml"),
            "csrf": token,
        },
    )
    assert r.status_code == 403


def test_facilitator_opens_a_form_to_all_at_the_kiosk(client, form):
    from tests.support import csrf, kiosk_login

    assert client.post("/kiosk/surveys/menage/public", data={"public": "1"}).status_code in (
        302,
        303,
        400,
    )
    assert client.get("/forms/menage/").status_code == 302  # not opened by that
    kiosk_login(client)
    page = client.get("/kiosk/surveys/").get_data(as_text=True)
    assert 'data-public="0"' in page and "/forms</b>" in page
    r = client.post("/kiosk/surveys/menage/public", data={"public": "1", "csrf": csrf(client)})
    assert r.status_code in (302, 303)
    assert 'data-public="1"' in client.get("/kiosk/surveys/").get_data(as_text=True)
    client.post("/forms/logout")  # the kiosk's session is not an enumerator's
    assert client.get("/forms/menage/").status_code == 200


def test_form_media_for_the_page_only_when_it_may_be_filled(client, form):
    from surveys import forms

    from .xlsforms import PNG

    assert client.get("/forms/menage/media/logo.png").status_code == 403
    forms.set_public("menage", True)
    with client.get("/forms/menage/media/logo.png") as r:
        assert r.status_code == 200 and r.data == PNG and r.mimetype == "image/png"
    assert client.get("/forms/menage/media/other.png").status_code == 404
    assert client.get("/forms/nothing/media/logo.png").status_code == 404


def test_m0070_upgrades_a_box_with_forms_to_enumerators_only(tmp_path, java):
    """A box in the field with a form and a submission: after 0070 the form is still
    there, still open, for enumerators only in the browser."""
    from appliance import migrations
    from appliance.db import database, open_database
    from surveys import forms

    from .xlsforms import write_xlsform

    db = open_database(tmp_path)
    try:
        before = [n for n, _ in migrations.available() if n < "m0070_survey_web"][-1]
        migrations.migrate(db, upto=before)
        form = write_xlsform(tmp_path / "f" / "menage.xlsx")
        with database.atomic():
            database.execute_sql(
                "INSERT INTO survey_form (form_id, version, title, state, origin, updated_at) "
                "VALUES ('menage', '1', 'Enquête', 'open', 'box', '2026-11-01')"
            )
        assert "m0070_survey_web" in migrations.migrate(db)
        row = database.execute_sql(
            "SELECT state, web_public FROM survey_form WHERE form_id = 'menage'"
        ).fetchone()
        assert row == ("open", 0)
        forms.import_xlsform(tmp_path, form)  # a new version keeps the choice
        forms.set_public("menage", True)
        forms.import_xlsform(tmp_path, write_xlsform(tmp_path / "g" / "menage.xlsx", version="2"))
        assert forms.current("menage")["web_public"] == 1
        assert migrations.migrate(db) == []
    finally:
        db.close()


def test_a_public_form_takes_a_few_submissions_per_phone_an_hour(app, client, form):
    from surveys import forms, submissions, webforms

    forms.set_public("menage", True)
    token = page_data(client)["csrf"]

    def send():
        xml = submission_xml(instance=f"uuid:{uuid.uuid4()}")
        return client.post(
            "/forms/menage/submission",
            data={
                "xml_submission_file": (io.BytesIO(xml), "xml_submission_file", "text/xml"),
                "csrf": token,
            },
        )

    for _ in range(webforms.PUBLIC_SUBMISSIONS_PER_HOUR):
        assert send().status_code == 201
    refused = send()
    assert refused.status_code == 429 and "later" in refused.json["message"]
    assert submissions.counts() == {"menage": webforms.PUBLIC_SUBMISSIONS_PER_HOUR}
    login(client)  # an enumerator is not counted so
    token = page_data(client)["csrf"]
    assert send().status_code == 201


def test_cli_opens_a_form_to_all(app, db, tmp_path, form, site_doc):
    from surveys import forms

    from .test_forms import _espace, _toml

    site_toml = tmp_path / "site.toml"
    site_toml.write_text(_toml(site_doc))
    ok = _espace("survey", "public", "menage", "yes", "--site", str(site_toml))
    assert ok.returncode == 0, ok.output
    assert forms.current("menage")["web_public"] == 1
    missing = _espace("survey", "public", "autre", "no", "--site", str(site_toml))
    assert missing.returncode == 1 and "no form 'autre'" in missing.output
