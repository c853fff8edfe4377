"""Where a string falls back to French (a catalogue without it), the element says
lang="fr"; the marks never leak into attributes, titles, options or JSON."""

import pytest

from appliance import i18n
from tests.support import make_site


@pytest.fixture
def site_doc(tmp_path):
    # Hassaniya has no catalogue yet: every string falls back to French.
    return make_site(tmp_path, site={"languages": ["fr", "bm", "mey"],
                                     "default_language": "fr"})


def test_mark_fallbacks_in_text_only():
    o, c = i18n.OPEN, i18n.CLOSE
    html = (f'<title>{o}Accueil{c} · X</title><a aria-label="{o}Accueil{c}" href="/">'
            f'{o}Accueil{c}</a><select><option>{o}Choisir…{c}</option></select>'
            f'<textarea>{o}x{c}</textarea><p>{o}Tableau{c}</p>')
    assert i18n.mark_fallbacks(html) == (
        '<title>Accueil · X</title><a aria-label="Accueil" href="/"><span lang="fr">Accueil'
        '</span></a><select><option>Choisir…</option></select><textarea>x</textarea>'
        '<p><span lang="fr">Tableau</span></p>')
    assert i18n.mark_fallbacks("<p>plain</p>") == "<p>plain</p>"


@pytest.mark.parametrize("path", ["/", "/board/new", "/programme/", "/library/", "/about"])
def test_fallbacks_say_french_and_nothing_leaks(client, path):
    client.set_cookie("lang", "mey")
    r = client.get(path)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<html lang="mey" dir="rtl">' in html
    assert i18n.OPEN not in html and i18n.CLOSE not in html
    assert '<span lang="fr">Accueil</span>' in html or 'aria-label="Accueil"' in html
    assert html.count('<span lang="fr">') >= 2
    r.close()


def test_a_complete_catalogue_has_no_french_span(client):
    client.set_cookie("lang", "bm")
    html = client.get("/board/new").get_data(as_text=True)
    assert 'lang="fr"' not in html.replace('lang="fr" dir', "")
    assert i18n.OPEN not in html


def test_json_and_outside_requests_are_plain(app):
    from flask_babel import gettext

    with app.app_context():
        from flask import g

        g.lang = "mey"
        assert gettext("Home") == "Accueil"  # CLI, worker, SMS: no marks


def test_fallbacks_in_a_pages_json_carry_no_marks(client):
    """Strings a page hands its script as JSON (the map's, the survey form's words) are
    unmarked too: with ASCII-escaped JSON the marks slipped through as \\ue000 and a
    phone drew them as boxes around the French."""
    import json
    import re

    client.set_cookie("lang", "mey")
    html = client.get("/map/").get_data(as_text=True)
    raw = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', html, re.S)
    assert "\\ue000" not in html.lower() and i18n.OPEN not in html
    data = json.loads(raw.group(1))
    assert data["proposeText"] == "Ajouter une organisation ici"
