"""Catalogues: French complete (the reference), compiled files up to date, the
drafts for Bambara and Soninke marked for review by native speakers."""

import io
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from appliance.i18n import TRANSLATIONS
from appliance.languages import LANGUAGES

CODES = sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir())


def catalogue(code):
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def test_catalogues_exist_for_the_reference_languages():
    assert {"fr", "en", "bm", "snk", "ff"} <= set(CODES)
    assert set(CODES) <= set(LANGUAGES)


def translated(messages) -> dict:
    """msgid -> msgstr of what `pybabel compile` keeps (translated, not fuzzy); plural
    forms as tuples (read_mo gives lists, read_po tuples)."""
    out = {}
    for m in messages:
        if m.fuzzy:
            continue
        key = tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id
        string = tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string
        if key and (any(string) if isinstance(string, tuple) else string):
            out[key] = string
    return out


@pytest.mark.parametrize("code", CODES)
def test_compiled_catalogue_matches_its_source(code):
    """Run `pybabel compile -d appliance/translations` after editing a .po file."""
    po = translated(catalogue(code))
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo", "rb") as f:
        mo = translated(read_mo(f))
    # Babel compiles an untranslated plural with the English forms, which would hide
    # the French fallback of a draft: such entries must be marked "#, fuzzy".
    english = [k for k, v in mo.items() if isinstance(k, tuple) and k not in po]
    assert not english, f"untranslated plurals compiled as English (mark them fuzzy): {english}"
    assert mo == po


def test_french_translates_every_string_of_the_template():
    template = read_po(io.BytesIO((TRANSLATIONS / "messages.pot").read_bytes()))
    french = catalogue("fr")
    done = translated(french)
    missing = [m.id for m in template if m.id and (
        not done.get(m.id) or (isinstance(m.id, tuple) and not all(done[m.id])))]
    assert not missing, f"untranslated in fr: {missing}"


@pytest.mark.parametrize("code", ["bm", "snk", "ff"])
def test_drafts_translate_every_string_of_the_template(code):
    """Every string a visitor or facilitator sees, in each language of the field."""
    template = read_po(io.BytesIO((TRANSLATIONS / "messages.pot").read_bytes()))
    done = translated(catalogue(code))
    missing = [m.id for m in template if m.id and (
        not done.get(m.id) or (isinstance(m.id, tuple) and not all(done[m.id])))]
    assert not missing, f"untranslated in {code}: {missing}"


@pytest.mark.parametrize("code", ["bm", "snk", "ff"])
def test_drafts_are_marked_for_native_review_and_cover_the_landing_page(code):
    text = (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").read_text()
    assert "NEEDS REVIEW by a native speaker" in text
    assert "X-Review-Status: needs review by a native speaker" in text
    cat = catalogue(code)
    for msgid in ("Welcome", "Learn", "Ask your officials", "Programme", "About this space",
                  "Choose your language"):
        assert cat.get(msgid) and cat.get(msgid).string, msgid


def test_template_is_up_to_date_with_the_code():
    """Every _() string of the code is in messages.pot (run pybabel extract)."""
    import subprocess
    import sys
    import tempfile

    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "messages.pot"
        subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()",
                        "-q", "extract",
                        "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location",
                        "--ignore-dirs=.venv", "--ignore-dirs=var", "--ignore-dirs=tests",
                        "--ignore-dirs=bench", "--ignore-dirs=central",  # its own catalogues
                        "-o", str(out), "."], cwd=root, check=True, capture_output=True)
        with out.open("rb") as f:
            fresh = {m.id for m in read_po(f) if m.id}
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        current = {m.id for m in read_po(f) if m.id}
    assert fresh <= current, f"not extracted yet: {sorted(map(str, fresh - current))[:10]}"
