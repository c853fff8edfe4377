"""Central speaks French by default and English to the admins who choose it: its own
catalogues (apart from the box's), complete in French and compiled; each admin's choice
kept in the database and changed from any page's header; the CLI sets it too."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from click.testing import CliRunner

from central import i18n, service
from central.models import Admin
from tests.central.test_central_admin import PASSWORD, login, seed

ROOT = Path(__file__).resolve().parents[2]
CODES = sorted(p.name for p in i18n.TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir())


def catalogue(code: str):
    with open(i18n.TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def translated(messages) -> dict:
    """msgid -> msgstr of what `pybabel compile` keeps (translated, not fuzzy)."""
    out = {}
    for m in messages:
        if m.fuzzy or not m.id:
            continue
        key = tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id
        string = tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string
        if any(string) if isinstance(string, tuple) else string:
            out[key] = string
    return out


def template_ids() -> list:
    with (i18n.TRANSLATIONS / "messages.pot").open("rb") as f:
        return [m.id for m in read_po(f) if m.id]


def test_every_catalogue_is_a_language_central_offers():
    assert "fr" in CODES
    assert set(CODES) <= set(i18n.LANGUAGES)
    assert i18n.DEFAULT == "fr"


def test_compiled_catalogues_match_their_source():
    """Run `scripts/central-i18n-update` (or `pybabel compile -d central/translations`)."""
    for code in CODES:
        po = translated(catalogue(code))
        with open(i18n.TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo", "rb") as f:
            mo = translated(read_mo(f))
        assert mo == po, code


def test_french_translates_every_string_of_central():
    done = translated(catalogue("fr"))
    missing = [
        m
        for m in template_ids()
        if not done.get(tuple(m) if isinstance(m, tuple) else m)
        or (isinstance(m, tuple) and not all(done[tuple(m)]))
    ]
    assert not missing, f"untranslated in central's fr (scripts/central-i18n-update): {missing}"


def test_template_is_up_to_date_with_central_code(tmp_path):
    """Every _() string of central is in central/translations/messages.pot, and none of
    the box's strings is (the box keeps its own catalogues)."""
    out = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from babel.messages.frontend import main; main()",
            "-q",
            "extract",
            "-F",
            "central/babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "--ignore-dirs=translations",
            "-o",
            str(out),
            "central",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with out.open("rb") as f:
        fresh = {m.id for m in read_po(f) if m.id}
    current = set(template_ids())
    assert fresh <= current, f"not extracted yet: {sorted(map(str, fresh - current))[:10]}"


def test_the_box_catalogue_holds_no_central_string():
    with (ROOT / "appliance" / "translations" / "messages.pot").open("rb") as f:
        box = {m.id for m in read_po(f) if m.id}
    assert "regional admin" not in box and "Audit log" not in box


def _html(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def _switch(client, token: str, code: str, next_: str = "/board"):
    return client.post("/language", data={"csrf": token, "language": code, "next": next_})


def test_an_admin_switching_to_english_sees_english_another_still_french(call, capp):
    seed(call, capp)
    awa, nat = capp.test_client(), capp.test_client()
    token = login(awa, "awa")
    login(nat, "nat")
    page = _html(awa.get("/board"))
    assert '<html lang="fr">' in page and ">Tableau</a>" in page and "Se déconnecter" in page
    assert ">Board</a>" not in page and "Log out" not in page
    # The header's switch, with the CSRF token like every form of central.
    assert _switch(awa, "", "en").status_code == 400
    resp = _switch(awa, token, "en", next_="/board?status=open")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/board?status=open")
    page = _html(awa.get("/board"))
    assert '<html lang="en">' in page and ">Board</a>" in page and "Log out" in page
    assert 'id="lang-fr"' in page and 'id="lang-en"' not in page
    assert call(lambda: Admin.get(Admin.username == "awa").language) == "en"
    # Another admin is not affected, and awa's choice outlives her session.
    page = _html(nat.get("/board"))
    assert '<html lang="fr">' in page and ">Tableau</a>" in page
    again = capp.test_client()
    login(again, "awa")
    assert '<html lang="en">' in _html(again.get("/"))
    # An unknown language or a foreign `next` changes nothing / goes home.
    assert _switch(awa, token, "xx").status_code == 400
    resp = _switch(awa, token, "fr", next_="//evil.example/")
    assert resp.status_code == 302 and "evil" not in resp.headers["Location"]
    assert ">Tableau</a>" in _html(awa.get("/board"))


def test_the_login_page_is_french(capp, cclient):
    page = _html(cclient.get("/login"))
    assert '<html lang="fr">' in page


def test_cli_creates_an_admin_in_a_language_and_changes_it(tmp_path):
    from central.cli import cli

    data = str(tmp_path / "c")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "create-admin",
            "--data-dir",
            data,
            "kadi",
            "--role",
            "national",
            "--password",
            PASSWORD,
            "--language",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["set-language", "--data-dir", data, "kadi", "xx"])
    assert result.exit_code == 2 and "xx" in result.output
    result = runner.invoke(cli, ["set-language", "--data-dir", data, "nobody", "fr"])
    assert result.exit_code == 1 and "no admin 'nobody'" in result.output
    from central.app import create_app
    from central.db import database

    app = create_app({"DATA_DIR": data})
    with app.app_context(), database.connection_context():
        assert Admin.get(Admin.username == "kadi").language == "en"
    result = runner.invoke(cli, ["set-language", "--data-dir", data, "kadi", "fr"])
    assert result.exit_code == 0, result.output
    with app.app_context(), database.connection_context():
        assert Admin.get(Admin.username == "kadi").language == "fr"


def test_service_refuses_an_unknown_language(call, capp):
    with pytest.raises(service.CentralError, match="language"):
        call(service.create_admin, "moussa", PASSWORD, "national", None, "xx")


def test_a_catalogue_file_is_shipped_with_the_package():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"\*" = \[[^\]]*"translations/\*\*/\*"', text)
    assert (i18n.TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.mo").is_file()


# --- every page in French ---------------------------------------------------------------

# Words French writes as English does: a page may show them.
SAME_IN_FRENCH = {
    "Site",
    "Sites",
    "Commune",
    "Question",
    "Version",
    "Total",
    "Action",
    "Actions",
    "Admin",
    "Village",
    "Association",
    "Espace connecté",
}


def _english_fragments() -> dict[str, str]:
    """For each msgid French translates differently, the text that would show were its
    translation missing: the msgid's longest literal piece (placeholders and markup
    cut out), of at least 3 letters."""
    out = {}
    french = translated(catalogue("fr"))
    for msgid, msgstr in french.items():
        for form in msgid if isinstance(msgid, tuple) else (msgid,):
            if form in SAME_IN_FRENCH or form in (
                msgstr if isinstance(msgstr, tuple) else (msgstr,)
            ):
                continue
            pieces = re.split(r"%\(\w+\)[sd]|<[^>]+>|[\"«»]", form)
            piece = max((p.strip(" .:,;()") for p in pieces), key=len)
            if len(piece) >= 3:
                out[piece] = form
    return out


def _visible(html: str) -> str:
    """What a reader sees or hears of a page, <code> aside: its text and the attributes
    shown or spoken (title, aria-label, data-label, placeholder, alt), HTML entities decoded."""
    import html as htmlmod

    said = re.findall(r'(?:title|aria-label|data-label|placeholder|alt)="([^"]*)"', html)
    # Commands and code shown as such (<code>) are not translated.
    html = re.sub(r"<(script|style|code)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return htmlmod.unescape(" ".join([text, *said]))


def english_in(html: str) -> list[str]:
    text = _visible(html)
    return sorted(
        {
            form
            for piece, form in _english_fragments().items()
            if re.search(r"(?<![\w-])" + re.escape(piece) + r"(?![\w-])", text)
        }
    )


def _seed_every_page(call, capp) -> None:
    """Something on every page: sites, posts (one by SMS, one a voice note, one
    answered), usage, learners, a directory entry, a survey submission."""
    import datetime as dt
    import uuid

    from central.models import Post, Site
    from central.surveys import SurveySubmission
    from tests.central.harness import post

    seed(call, capp)
    site = call(lambda: Site.get(Site.slug == "nioro"))
    voice = post(
        None,
        "",
        theme="water",
        commune="Nioro",
        created_at="2026-11-27T09:00:00Z",
        voice_sha256="ab" * 32,
    )
    place = {
        "uuid": str(uuid.uuid4()),
        "name": "Benkadi",
        "kind": "women_association",
        "village": "Nioro",
        "lat": 15.2,
        "lon": -9.6,
        "contact": "",
        "activities": "",
        "languages": ["bm"],
        "led_by_women": True,
        "led_by_youth": True,
        "removed": False,
        "updated_at": "2026-11-30T08:00:00Z",
    }
    learner = {
        "learner": "h" * 16,
        "course": "alpha-1",
        "lessons": 4,
        "opened": 2,
        "done": 1,
        "state": "progressed",
        "gender": "f",
        "age_group": "under35",
        "updated_at": "2026-11-29T08:00:00Z",
    }
    events = [
        [30, str(uuid.uuid4()), "post.created", "2026-11-27T09:00:00Z", voice],
        [31, str(uuid.uuid4()), "place.saved", "2026-11-30T08:00:00Z", place],
        [32, str(uuid.uuid4()), "learning.progress", "2026-11-29T08:00:00Z", learner],
    ]
    call(service.exchange, site, {"push": [["civic", 0, events]]})
    first = call(lambda: Post.select().where(Post.site == site).order_by(Post.id).first())
    call(lambda: Post.update(channel="sms").where(Post.id == first.id).execute())
    call(service.record_answer, first, "Le maire", "Le forage sera réparé.", None)
    call(
        lambda: (
            Site.update(last_contact=service.utcnow() - dt.timedelta(hours=5))
            .where(Site.id == site.id)
            .execute()
        )
    )
    call(
        lambda: SurveySubmission.create(
            site=site,
            instance_id="uuid:1",
            form_id="menage",
            version="1",
            xml="<menage><nom>Awa</nom><age>30</age></menage>",
            received_at="2026-11-25T10:00:00+00:00",
        )
    )


PAGES = [
    "/",
    "/board",
    "/board?status=open",
    "/usage",
    "/sessions",
    "/report",
    "/audit",
    "/learning",
    "/directory/",
    "/surveys",
    "/surveys/menage",
]


def test_every_page_of_central_is_french_for_a_french_admin(call, capp):
    from central.models import Post, Site

    _seed_every_page(call, capp)
    nioro = call(lambda: list(Post.select().join(Site).where(Site.slug == "nioro")))
    assert _english_fragments()  # the check below can fail
    shown = {}
    login_page = capp.test_client()
    shown["/login"] = _html(login_page.get("/login"))
    token = re.search(r'name="csrf" value="([^"]+)"', shown["/login"]).group(1)
    resp = login_page.post(
        "/login", data={"username": "awa", "password": "wrong one", "csrf": token}
    )
    assert resp.status_code == 401
    shown["/login (refused)"] = resp.get_data(as_text=True)
    for who in ("awa", "nat"):  # a regional admin sees the actions, a national one not
        client = capp.test_client()
        token = login(client, who)
        for path in PAGES:
            shown[f"{path} ({who})"] = _html(client.get(path))
        for p in nioro:
            shown[f"/board/{p.id} ({who})"] = _html(client.get(f"/board/{p.id}"))
        resp = client.get("/nowhere")
        assert resp.status_code == 404
        shown[f"404 ({who})"] = resp.get_data(as_text=True)
    # Flash messages and a refused form, as a regional admin meets them.
    client = capp.test_client()
    token = login(client, "awa")
    for path in ("/coaching/trainers", "/surveys/forwarding"):  # a regional admin's own
        shown[path] = _html(client.get(path))
    call(service.create_admin, "kadi", PASSWORD, "trainer", "Kayes")
    trainer = capp.test_client()
    page = _html(trainer.get("/login"))
    token_t = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (
        trainer.post(
            "/login", data={"username": "kadi", "password": PASSWORD, "csrf": token_t}
        ).status_code
        == 302
    )
    shown["/coaching (trainer)"] = _html(trainer.get("/coaching"))
    client.post("/sites/nioro/revoke", data={"csrf": token})
    shown["flash: not confirmed"] = _html(client.get("/"))
    client.post("/sites/nioro/code", data={"csrf": token})
    shown["flash: new code"] = _html(client.get("/"))
    client.post("/sites/nioro/revoke", data={"csrf": token, "confirm": "yes"})
    shown["flash: revoked"] = _html(client.get("/"))
    post_id = nioro[0].id
    resp = client.post(f"/board/{post_id}", data={"csrf": token, "official_name": ""})
    assert resp.status_code == 400
    shown["answer refused"] = resp.get_data(as_text=True)
    resp = client.post(f"/board/{post_id}", data={"csrf": "forged"})
    assert resp.status_code == 400
    shown["csrf refused"] = resp.get_data(as_text=True)
    nat = capp.test_client()
    resp = nat.post(f"/board/{post_id}", data={"csrf": login(nat, "nat"), "body": "x"})
    assert resp.status_code == 403
    shown["national refused"] = resp.get_data(as_text=True)

    found = {page: english_in(html) for page, html in shown.items()}
    assert not {page: words for page, words in found.items() if words}
    for page, html in shown.items():
        assert '<html lang="fr">' in html, page
    # The French is there, not only the English gone (dates and numbers too).
    assert "Publications par SMS" in shown["/usage (awa)"]
    assert "il y a 5 h" in shown["/ (awa)"]
    assert re.search(r"2[0-9] nov\. 2026 10:00", shown["/board (awa)"])
    assert "Élu : saisissez le nom de l'élu." in _visible(shown["answer refused"])
    assert "Le formulaire a expiré" in shown["csrf refused"]
    assert "un compte de consultation nationale ne peut rien modifier" in shown["national refused"]
    assert "Nouveau code d'inscription pour nioro" in _visible(shown["flash: new code"])


def test_the_page_check_finds_a_missing_translation(call, capp):
    """The check above fails when a French translation goes missing: the English shows."""
    seed(call, capp)
    client = capp.test_client()
    login(client, "awa")
    page = _html(client.get("/board"))
    assert english_in(page) == []
    assert english_in(page.replace("Exporter en CSV", "Export CSV")) == ["Export CSV"]
    assert english_in(page.replace("il y a", "x")) == []


def test_no_template_of_central_has_text_outside_gettext():
    """A word typed straight into a template never reaches the catalogue: every text a
    page shows goes through _() (commands in <code>, the product's name and symbols
    aside)."""
    templates = ROOT / "central" / "templates" / "central"
    bare = []
    for path in sorted(templates.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
        text = re.sub(r"<(script|style|code|title)\b.*?</\1>", " ", text, flags=re.S)
        for attr in re.findall(r'(?:title|aria-label|placeholder|alt)="([^"]*)"', text):
            if re.search(r"[A-Za-z]{2,}", attr) and "://" not in attr:  # an example address
                bare.append(f"{path.name}: {attr}")
        text = re.sub(r"<[^>]*>", "\n", text)
        text = text.replace("Espace central", " ").replace("UTC", " ")
        bare += [
            f"{path.name}: {line.strip()}"
            for line in text.splitlines()
            if re.search(r"[A-Za-z]{2,}", line)
        ]
    assert not bare, f"wrap in _(): {bare[:10]}"
