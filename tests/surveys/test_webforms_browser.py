"""A survey in the phone's browser, end to end: Debian's chromium at 360x640 in its own
network namespace opens the box on a hotspot-like address over plain HTTP (no
crypto.randomUUID, no GPS: the page's shim and place chooser stand in), an enumerator
logs in, fills a form made by pyxform from an XLSForm written here (text, select_one,
integer, photo, sound, location), is told a too-large sound is refused, sends; the box
syncs to a real central through a faulty link, and central shows the submission (the
hostile text escaped) with its photo and sound, and exports it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.central.harness import CentralServer, central_call, enrol_box, make_central
from tests.phone_net import PhoneNet
from tests.support import CHROMIUM_ARGS, LiveServer, make_site, require_program, require_root
from tests.visitor.conftest import PHONE
from tests.visitor.paths import small_targets

from .test_central import PASSWORD, sync_until_done
from .xlsforms import write_xlsform

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.pwned=1">Awa & "Fils"'
VILLAGES = [
    {"name": "Diéma", "lat": 14.5412, "lon": -9.1861},
    {"name": "Kassaro", "lat": 14.6021, "lon": -9.0522},
]
LIMIT = 2_000_000  # the box's body limit in this test: a 3 MB sound is too large
# A small Ogg file (the box checks that an audio/ogg file begins as one).
OGG = b"OggS\x00\x02" + bytes(300)


@pytest.fixture(scope="module")
def phone_net(tmp_path_factory):
    require_root("a network namespace for the phone")
    require_program("ip", "iproute2")
    with PhoneNet(tmp_path_factory.mktemp("phone-net")) as net:
        yield net


@pytest.fixture
def site_doc(tmp_path, phone_net):
    return make_site(
        tmp_path,
        site={"default_language": "fr"},
        hotspot={"address": phone_net.box_address, "subnet": phone_net.subnet},
        map={
            "villages": VILLAGES,
            "area": [-9.3, 14.4, -9.0, 14.7],
            "box_location": [14.55, -9.15],
        },
    )


@pytest.fixture
def phone_page(playwright, phone_net):
    require_program("chromium", "chromium")
    browser = playwright.chromium.launch(
        executable_path=str(phone_net.wrapper), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser.new_context(**PHONE).new_page()
    finally:
        browser.close()


def survey_form(tmp_path):
    return write_xlsform(
        tmp_path / "usb" / "visite.xlsx",
        form_id="visite",
        title="Visite des puits",
        media={},
        survey=[
            ["type", "name", "label::French (fr)", "label::English (en)", "required"],
            ["text", "nom", "Nom de la personne", "Name", "yes"],
            ["select_one oui_non", "eau", "Eau potable ?", "Drinking water?", "yes"],
            ["integer", "taille", "Taille du ménage", "Household size", "yes"],
            ["image", "photo", "Photo du puits", "Photo of the well", ""],
            ["audio", "voix", "Message vocal", "Voice message", "yes"],
            ["geopoint", "lieu", "Lieu du puits", "Place of the well", ""],
        ],
    )


def test_phone_fills_a_form_in_the_browser_and_central_exports_it(
    app, db, tmp_path, phone_net, phone_page, artifacts, java
):
    central_app = make_central(tmp_path / "central")
    with CentralServer(central_app) as central:
        central.app = central_app
        fill_and_send(app, db, central, tmp_path, phone_net, phone_page, artifacts)


def fill_and_send(app, db, central, tmp_path, phone_net, page, artifacts):
    from central import service
    from central import surveys as central_surveys
    from central.models import Region
    from central.surveys import SurveyAttachment, SurveySubmission
    from surveys import digest, forms, submissions

    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    site = app.config["SITE"]
    central_app = central.app
    # The form is published at central and comes down to the box through a faulty link.
    enrol_box(central_app, central.url, app.config["DATA_DIR"])
    region = central_call(central_app, Region.get, Region.name == "Kayes")
    central_call(central_app, central_surveys.publish, survey_form(tmp_path), region)
    faults = {0: ("cut_down", 40), 2: "drop_response"}
    assert sync_until_done(site, central.url, lambda i: faults.get(i, "pass")) >= 2
    assert [f["form_id"] for f in forms.forms()] == ["visite"]
    digest.add_enumerator("moussa", "secret-123")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with LiveServer(app, host=phone_net.box_address, max_request_body_size=LIMIT + 65536) as box:
        assert box.url.startswith(f"http://{phone_net.box_address}")
        # The home has a Surveys tile; the list says who may fill each form.
        page.goto(box.url + "/lang/fr?next=/")
        page.click("a[href='/forms/']")
        page.click("a[data-form='visite']")
        page.wait_for_url("**/forms/login**")
        assert small_targets(page, "main") == []
        page.fill("#username", "moussa")
        page.fill("#password", "secret-123")
        page.click("#login-button")
        page.wait_for_url("**/forms/visite/")
        assert page.evaluate("window.isSecureContext") is False  # as phones see the box
        page.wait_for_selector("#webform[data-ready='1']")
        page.wait_for_selector("text=Nom de la personne")
        page.get_by_role("button", name="Envoyer").wait_for()  # Web Forms' words in French
        page.screenshot(path=str(artifacts / "webform-360x640.png"), full_page=True)

        def question(label):
            return page.locator(".question-container", has_text=label)

        question("Nom de la personne").locator("input").fill(XSS)
        question("Eau potable").get_by_text("Oui").click()
        size = question("Taille du ménage").locator("input")
        size.press_sequentially("7")  # PrimeVue's number field reads keys, not fill()
        size.press("Tab")
        photo = camera_jpeg(page)
        question("Photo du puits").locator("input[type=file]").first.set_input_files(
            {"name": "puits+été #1.jpg", "mimeType": "image/jpeg", "buffer": photo}
        )
        page.wait_for_selector(".question-container img[src^='blob:']")
        # Location: no GPS on plain HTTP; the chooser finds the village by its name.
        question("Lieu du puits").get_by_text("Trouver le lieu").click()
        page.wait_for_selector("#wf-picker")
        page.fill("#wf-place", "diema")
        page.screenshot(path=str(artifacts / "webform-place-360x640.png"))
        page.click("button[data-place='Diéma']")
        page.get_by_text("Enregistrer ce lieu").click()
        question("Lieu du puits").get_by_text("14.541").wait_for()
        # A sound too large for the box: said before anything is sent.
        sound = page.locator(".wf-sound input[type=file]")
        sound.set_input_files(
            {"name": "long.ogg", "mimeType": "audio/ogg", "buffer": b"OggS" + bytes(3_000_000)}
        )
        page.get_by_role("button", name="Envoyer").click()
        status = page.locator("#webform-status")
        status.get_by_text("trop lourds").wait_for()
        assert "2 Mo" in status.inner_text()
        assert submissions.counts() == {}
        page.screenshot(path=str(artifacts / "webform-too-large-360x640.png"))
        sound.set_input_files({"name": "voix.ogg", "mimeType": "audio/ogg", "buffer": OGG})
        # The box stores it but the phone leaves the Wi-Fi before the answer: the page
        # keeps the answers, and sending again is safe (the same instanceID, once).
        lost = []

        def answer_lost(route):
            if lost:
                return route.continue_()
            lost.append(route.fetch().status)
            return route.abort("internetdisconnected")

        page.route("**/forms/visite/submission", answer_lost)
        page.get_by_role("button", name="Envoyer").click()
        status.get_by_text("toujours sur cette page").wait_for()
        assert lost == [201] and submissions.counts() == {"visite": 1}
        assert question("Nom de la personne").locator("input").input_value() == XSS
        page.get_by_role("button", name="Envoyer").click()
        page.wait_for_selector("#webform-status.ok")
        assert submissions.counts() == {"visite": 1}
        page.screenshot(path=str(artifacts / "webform-sent-360x640.png"))
        assert not errors, errors
        # The form is empty again, for the next person.
        assert question("Nom de la personne").locator("input").input_value() == ""

    from appliance import blobs

    rows = db.execute_sql(
        "SELECT instance_id, xml_sha256, enumerator FROM survey_submission"
    ).fetchall()
    assert len(rows) == 1
    instance, xml_sha, enumerator = rows[0]
    assert enumerator == "moussa"
    xml = blobs.path_for(site.data_dir, xml_sha).read_text()
    held = submissions.instance(instance)
    names = {a["mime"]: a["name"] for a in held["attachments"]}
    assert set(names) == {"image/jpeg", "audio/ogg"}
    # Web Forms names a photo by the time it was taken, whatever the phone called it.
    assert re.fullmatch(r"\d+\.jpg", names["image/jpeg"])
    assert f"<voix>{names['audio/ogg']}</voix>" in xml
    assert f"<photo>{names['image/jpeg']}</photo>" in xml
    assert "<lieu>14.5412 -9.1861 0.0 500.0</lieu>" in xml
    assert "<taille>7</taille>" in xml and "<eau>oui</eau>" in xml

    # --- to central through a faulty link, then shown and exported ---------------------
    faults = {1: ("cut_down", 60), 3: "drop_response", 5: ("cut_up", 200)}
    assert sync_until_done(site, central.url, lambda i: faults.get(i, "pass")) >= 2
    subs = central_call(
        central_app, lambda: [(s.instance_id, s.form_id) for s in SurveySubmission.select()]
    )
    assert subs == [(instance, "visite")]
    atts = central_call(
        central_app, lambda: sorted((a.mime, a.name, a.id) for a in SurveyAttachment.select())
    )
    assert [a[:2] for a in atts] == [
        ("audio/ogg", names["audio/ogg"]),
        ("image/jpeg", names["image/jpeg"]),
    ]
    central_call(central_app, service.create_admin, "awa", PASSWORD, "regional", "Kayes")
    client = central_app.test_client()
    token = re.search(
        r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)
    ).group(1)
    assert (
        client.post(
            "/login", data={"username": "awa", "password": PASSWORD, "csrf": token}
        ).status_code
        == 302
    )
    table = client.get("/surveys/visite").get_data(as_text=True)
    assert "Nom de la personne" in table
    assert XSS not in table and "&lt;img src=x onerror=" in table
    assert f'<img src="/surveys/attachments/{atts[1][2]}"' in table
    assert "<audio controls" in table
    with client.get(f"/surveys/attachments/{atts[1][2]}") as r:
        assert r.status_code == 200 and r.data == photo
    export = client.get("/surveys/visite.csv")
    rows = list(csv.reader(io.StringIO(export.data.decode("utf-8-sig")), delimiter=";"))
    header, row = rows[0], rows[1]
    assert row[header.index("Nom de la personne")] == XSS
    assert row[header.index("Taille du ménage")] == "7"
    assert row[header.index("Lieu du puits")] == "14.5412 -9.1861 0.0 500.0"
    # And as a workbook: the hostile text is a text cell, never a formula or markup.
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(client.get("/surveys/visite.xlsx").data))
    cells = [c.value for r in book.active.iter_rows() for c in r]
    assert XSS in cells and "Nom de la personne" in cells


def camera_jpeg(page) -> bytes:
    """A real JPEG, as a phone's camera gives (drawn and encoded by chromium)."""
    import base64

    url = page.evaluate("""() => { const c = document.createElement('canvas');
        c.width = 64; c.height = 48; const x = c.getContext('2d');
        x.fillStyle = '#2a6'; x.fillRect(0, 0, 64, 48); x.fillStyle = '#fff';
        x.fillRect(20, 10, 24, 28); return c.toDataURL('image/jpeg', 0.8); }""")
    return base64.b64decode(url.split(",", 1)[1])


def test_public_form_location_from_the_commune_map_and_uuid_shim(
    app, db, tmp_path, phone_net, phone_page, artifacts, java
):
    """A form the box opened to all: no login; plain HTTP lacks crypto.randomUUID (the
    page's shim gives one); a location is a point tapped on the commune's map; answers
    the box did not get are kept on the phone and sent later."""
    from surveys import forms, submissions

    site = app.config["SITE"]
    forms.import_xlsform(site.data_dir, survey_form(tmp_path))
    forms.set_public("visite", True)
    page = phone_page
    with LiveServer(app, host=phone_net.box_address) as box:
        page.goto(box.url + "/lang/fr?next=/forms/")
        # Without the shim (the list page), this origin has no crypto.randomUUID.
        assert page.evaluate("typeof crypto.randomUUID") == "undefined"
        assert small_targets(page, "main") == []
        assert "ouvert à tous" in page.locator("#forms").inner_text()
        page.click("a[data-form='visite']")
        page.wait_for_selector("#webform[data-ready='1']")
        uuid = page.evaluate("crypto.randomUUID()")
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid
        )
        page.locator(".question-container", has_text="Lieu du puits").get_by_text(
            "Trouver le lieu"
        ).click()
        page.wait_for_selector("#wf-map .leaflet-container, #wf-map.leaflet-container")
        ours = small_targets(page, "#wf-picker")  # Leaflet's own zoom and credit apart
        assert [t for t in ours if "leaflet" not in t["cls"] and t["text"] != "Leaflet"] == []
        assert page.locator("#wf-use").is_disabled()
        map_box = page.locator("#wf-map").bounding_box()
        page.mouse.click(map_box["x"] + map_box["width"] / 2, map_box["y"] + map_box["height"] / 2)
        page.click("#wf-use")
        page.screenshot(path=str(artifacts / "webform-map-point-360x640.png"))
        page.get_by_text("Enregistrer ce lieu").click()
        value = page.locator(".question-container", has_text="Lieu du puits").inner_text()
        lat = float(re.search(r"Latitude : (-?\d+\.\d+)", value).group(1))
        lon = float(re.search(r"Longitude : (-?\d+\.\d+)", value).group(1))
        assert abs(lat - 14.55) < 0.02 and abs(lon + 9.15) < 0.02  # the box, centred

        # The box cannot be reached when sending: the answers are kept on the phone
        # (IndexedDB works on plain HTTP) and offered the next time the form opens.
        def question(label):
            return page.locator(".question-container", has_text=label)

        question("Nom de la personne").locator("input").fill("Fanta")
        question("Eau potable").get_by_text("Non").click()
        size = question("Taille du ménage").locator("input")
        size.press_sequentially("3")
        size.press("Tab")
        # The sound is required: Web Forms refuses to send until one is given.
        page.get_by_role("button", name="Envoyer").click()
        page.get_by_text("Des réponses manquent").first.wait_for()
        page.locator(".wf-sound input[type=file]").set_input_files(
            {"name": "voix.ogg", "mimeType": "audio/ogg", "buffer": OGG}
        )
        page.route("**/forms/visite/submission", lambda route: route.abort("internetdisconnected"))
        page.get_by_role("button", name="Envoyer").click()
        page.locator("#webform-status").get_by_text("toujours sur cette page").wait_for()
        assert submissions.counts() == {}
        page.unroute("**/forms/visite/submission")
        page.reload()
        page.wait_for_selector("#webform[data-ready='1']")
        assert page.locator("#wf-kept").get_attribute("data-count") == "1"
        page.screenshot(path=str(artifacts / "webform-kept-360x640.png"))
        page.click("#wf-send-kept")
        page.wait_for_selector("#webform-status.ok")
        assert page.locator("#wf-kept").count() == 0
        assert submissions.counts() == {"visite": 1}
        # In English the same form comes in its English labels (Web Forms' default
        # translation is the visitor's language when the form has it).
        page.goto(box.url + "/lang/en?next=/forms/visite/")
        page.wait_for_selector("#webform[data-ready='1']")
        page.get_by_text("Place of the well").wait_for()
        assert page.get_by_text("Lieu du puits").count() == 0


# Visible text of the page: every text node shown on screen, and the placeholders.
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const text = t.nodeValue.trim();
    const e = t.parentElement;
    if (!text || !e || e.closest("script, style, template, noscript")) continue;
    if (!e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const range = document.createRange();
    range.selectNodeContents(t);
    const box = range.getBoundingClientRect();
    if (box.width && box.height) out.push(text);
  }
  for (const e of document.querySelectorAll("[placeholder]")) {
    if (e.checkVisibility()) out.push(e.getAttribute("placeholder"));
  }
  return out;
}"""


SETTLED_JS = """() => document.getAnimations().every((a) =>
  a.playState !== "running" || a.effect.getComputedTiming().iterations === Infinity)"""


def every_question_type(tmp_path):
    """The question types the field's forms use, labelled in Bambara (and French)."""
    return write_xlsform(
        tmp_path / "usb" / "kolon.xlsx",
        form_id="kolon",
        title="Kɔlɔnw lajɛli",
        media={},
        survey=[
            ["type", "name", "label::Bambara (bm)", "label::French (fr)", "required", "constraint"],
            ["start-geopoint", "debut", "", "", "", ""],
            ["note", "intro", "Aw ni ce! Ɲininkali dɔw filɛ.", "Bonjour !", "", ""],
            ["text", "nom", "I tɔgɔ", "Votre nom", "yes", ""],
            ["integer", "nombre", "Mɔgɔ hakɛ", "Nombre de personnes", "yes", ". > 0"],
            ["decimal", "litres", "Ji litiri", "Litres d'eau", "", ""],
            ["select_one oui_non", "eau", "Kɔlɔn bɛ yen wa?", "Un puits ?", "yes", ""],
            ["select_multiple source", "sources", "Ji bɛ bɔ min?", "Sources", "", ""],
            ["date", "jour", "Don min na", "Date de la visite", "", ""],
            ["image", "photo", "Kɔlɔn ja", "Photo du puits", "", ""],
            ["audio", "voix", "Kumacikan", "Message vocal", "yes", ""],
            ["geopoint", "lieu", "Kɔlɔn yɔrɔ", "Lieu du puits", "", ""],
        ],
        choices=[
            ["list_name", "name", "label::Bambara (bm)", "label::French (fr)"],
            ["oui_non", "oui", "Ɔwɔ", "Oui"],
            ["oui_non", "non", "Ayi", "Non"],
            ["source", "forage", "Kɔlɔn", "Forage"],
            ["source", "fleuve", "Baji", "Fleuve"],
        ],
    )


def test_a_bambara_visitor_sees_no_english_in_any_state(
    app, db, tmp_path, phone_net, phone_page, artifacts, java
):
    """Every state of a form in the browser, in Bambara, and no visible text is one of
    Web Forms' English strings (read from the vendored bundle, web_forms_english)."""
    from surveys import forms, submissions

    from .web_forms_english import english, english_in, looks_english

    assert {"Powered by", "Accuracy:", "Send", "No results found"} <= english()
    site = app.config["SITE"]
    forms.import_xlsform(site.data_dir, every_question_type(tmp_path))
    forms.set_public("kolon", True)
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    seen: dict[str, list] = {}

    def check(state):
        # PrimeVue's overlays fade in: a text at opacity 0 is not seen yet (spinners,
        # endless, apart).
        page.wait_for_function(SETTLED_JS)
        texts = page.evaluate(VISIBLE_TEXT_JS)
        found = [
            (t, english_in(t) or (["an English sentence"] if looks_english(t) else []))
            for t in texts
        ]
        seen[state] = [f for f in found if f[1]]
        page.screenshot(path=str(artifacts / f"webform-bm-{state}-360x640.png"), full_page=True)

    def question(label):
        return page.locator(".question-container", has_text=label)

    with LiveServer(app, host=phone_net.box_address) as box:
        # Loading: the form's XForm held back until the page was looked at.
        held = []
        page.route("**/forms/kolon/form.xml", lambda route: held.append(route))
        with page.expect_request("**/forms/kolon/form.xml"):
            page.goto(box.url + "/lang/bm?next=/forms/kolon/")
        check("loading")
        assert len(held) == 1  # its route was handed over while the page was looked at
        held[0].continue_()
        page.unroute("**/forms/kolon/form.xml")
        page.wait_for_selector("#webform[data-ready='1']")
        page.get_by_text("I tɔgɔ").wait_for()
        # No link leads off the box (Web Forms' footer links its credit to getodk.org).
        off_box = page.evaluate(
            "[...document.querySelectorAll('a[href]')].filter(a => a.origin !== location.origin)"
            ".map(a => a.href)"
        )
        assert off_box == []
        # The form's own start location is answered "denied": Web Forms says so.
        page.locator(".form-error-message").wait_for()
        check("ready")
        send = page.locator(".footer button").first
        send.click()
        page.locator(
            ".question-container .validation-message, .validation-message"
        ).first.wait_for()
        check("required")
        why = question("Mɔgɔ hakɛ").locator(".validation-message")
        required = why.inner_text()
        question("Mɔgɔ hakɛ").locator("input").press_sequentially("0")
        question("Mɔgɔ hakɛ").locator("input").press("Tab")
        expect(why).not_to_have_text(required)  # now the constraint's message
        check("constraint")
        question("Mɔgɔ hakɛ").locator("input").press_sequentially("3")
        question("Mɔgɔ hakɛ").locator("input").press("Tab")
        question("I tɔgɔ").locator("input").fill("Awa")
        question("Ji litiri").locator("input").press_sequentially("12.5")
        question("Ji litiri").locator("input").press("Tab")
        question("Kɔlɔn bɛ yen wa?").get_by_text("Ɔwɔ").click()
        question("Ji bɛ bɔ min?").get_by_text("Baji").click()
        # A date: PrimeVue's picker, its months, days and buttons in Bambara.
        question("Don min na").locator("input").click()
        page.locator(".p-datepicker-panel").wait_for()
        check("date-picker")
        page.locator(".p-datepicker-buttonbar button").first.click()  # today
        assert re.fullmatch(
            r"\d\d/\d\d/\d{4}", question("Don min na").locator("input").input_value()
        )
        page.keyboard.press("Escape")
        # Location: the page's chooser, then Web Forms' dialog with its precision.
        question("Kɔlɔn yɔrɔ").locator("button").first.click()
        page.wait_for_selector("#wf-picker")
        page.fill("#wf-place", "zzz")
        check("chooser")
        page.fill("#wf-place", "diema")
        page.click("button[data-place='Diéma']")
        page.locator(".geo-dialog").wait_for()
        check("location-dialog")
        page.locator(".geo-dialog-footer button").last.click()
        question("Kɔlɔn yɔrɔ").get_by_text("14.5412").wait_for()
        check("location-saved")
        question("Kɔlɔn ja").locator("input[type=file]").first.set_input_files(
            {"name": "kolon.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg(page)}
        )
        page.wait_for_selector(".question-container img[src^='blob:']")
        check("photo")
        page.locator(".wf-sound input[type=file]").set_input_files(
            {"name": "voix.ogg", "mimeType": "audio/ogg", "buffer": OGG}
        )
        check("sound")
        # The box cannot be reached: the answers are kept on the phone.
        page.route("**/forms/kolon/submission", lambda route: route.abort("internetdisconnected"))
        send.click()
        page.locator("#webform-status.error").wait_for()
        check("offline")
        page.unroute("**/forms/kolon/submission")
        page.reload()
        page.wait_for_selector("#webform[data-ready='1']")
        page.locator("#wf-kept").wait_for()
        check("kept")
        page.click("#wf-send-kept")
        page.wait_for_selector("#webform-status.ok")
        assert submissions.counts() == {"kolon": 1}
        check("sent")
        # A refusal from the box: the form was closed while the phone filled it.
        question("I tɔgɔ").locator("input").fill("Fanta")
        question("Mɔgɔ hakɛ").locator("input").press_sequentially("2")
        question("Kɔlɔn bɛ yen wa?").get_by_text("Ayi").click()
        page.locator(".wf-sound input[type=file]").set_input_files(
            {"name": "voix.ogg", "mimeType": "audio/ogg", "buffer": OGG}
        )
        forms.set_state("kolon", "closed")
        send.click()
        page.locator("#webform-status.error").wait_for()
        check("refused")
        forms.set_state("kolon", "open")
        # A form Web Forms cannot read.
        page.route(
            "**/forms/kolon/form.xml",
            lambda route: route.fulfill(status=200, content_type="text/xml", body="<h:html/>"),
        )
        page.reload()
        page.locator(".p-dialog, [role=dialog]").first.wait_for()
        check("load-failure")
    english_seen = [
        f"{state}: {text!r} ({', '.join(hits)})"
        for state, found in seen.items()
        for text, hits in found
    ]
    assert not english_seen, "English on the page:\n" + "\n".join(english_seen)
    assert set(seen) >= {"loading", "ready", "date-picker", "location-dialog", "load-failure"}
