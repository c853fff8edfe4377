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
    missing = [m for m in template_ids() if not done.get(tuple(m) if isinstance(m, tuple)
                                                         else m)
               or (isinstance(m, tuple) and not all(done[tuple(m)]))]
    assert not missing, f"untranslated in central's fr (scripts/central-i18n-update): {missing}"


def test_template_is_up_to_date_with_central_code(tmp_path):
    """Every _() string of central is in central/translations/messages.pot, and none of
    the box's strings is (the box keeps its own catalogues)."""
    out = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()",
                    "-q", "extract", "-F", "central/babel.cfg", "-k", "_l", "-k",
                    "lazy_gettext", "--no-location", "--ignore-dirs=translations",
                    "-o", str(out), "central"], cwd=ROOT, check=True, capture_output=True)
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
    result = runner.invoke(cli, ["create-admin", "--data-dir", data, "kadi", "--role",
                                 "national", "--password", PASSWORD, "--language", "en"])
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
