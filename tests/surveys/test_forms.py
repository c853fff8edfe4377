"""XLSForms converted by pyxform and checked by ODK Validate; refusals name the
validator's message, the sheet and the line; import from a USB stick and from central."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from .xlsforms import PNG, write_xlsform


def test_a_valid_form_converts_with_its_media(form_file, java):
    from sync_contract.xlsform import convert

    form = convert(form_file)
    assert (form.form_id, form.version, form.title) == ("menage", "1", "Enquête ménage")
    assert form.media == ("logo.png",)
    assert "Taille du ménage" in form.xml and len(form.md5) == 32


def test_odk_validate_refusal_names_the_sheet_and_line(tmp_path, java):
    from sync_contract.xlsform import FormRefused, convert

    path = write_xlsform(
        tmp_path / "bad.xlsx",
        survey=[
            ["type", "name", "label", "constraint"],
            ["text", "nom", "Nom", ""],
            ["integer", "age", "Âge", ". > > 3"],
        ],
        media={},
    )
    with pytest.raises(FormRefused) as e:
        convert(path)
    assert "invalid constraint" in e.value.message
    assert (e.value.sheet, e.value.line) == ("survey", 3)


def test_pyxform_refusal_names_the_row(tmp_path, java):
    from sync_contract.xlsform import FormRefused, convert

    path = write_xlsform(
        tmp_path / "bad.xlsx",
        survey=[
            ["type", "name", "label", "calculation"],
            ["text", "nom", "Nom", ""],
            ["calculate", "total", "", ""],
        ],
        media={},
    )
    with pytest.raises(FormRefused) as e:
        convert(path)
    assert (e.value.sheet, e.value.line) == ("survey", 3)
    assert "calculation" in e.value.message.lower()


def test_not_a_spreadsheet_is_refused(tmp_path, java):
    from sync_contract.xlsform import FormRefused, convert

    path = tmp_path / "x.xlsx"
    path.write_bytes(b"<script>alert(1)</script>")
    with pytest.raises(FormRefused):
        convert(path)


def test_cli_imports_from_a_stick_and_refuses_with_the_line(app, db, tmp_path, form_file, site_doc):
    from surveys import forms

    site_toml = tmp_path / "site.toml"
    site_toml.write_text(_toml(site_doc))
    ok = _espace("survey", "import", str(form_file), "--site", str(site_toml))
    assert ok.returncode == 0, ok.output
    assert "imported menage version 1" in ok.output
    assert [f["form_id"] for f in forms.forms()] == ["menage"]

    bad = write_xlsform(
        tmp_path / "stick" / "bad.xlsx",
        form_id="bad",
        survey=[
            ["type", "name", "label", "relevant"],
            ["text", "a", "A", ""],
            ["text", "b", "B", "${a} = = 'x'"],
        ],
        media={},
    )
    refused = _espace("survey", "import", str(bad), "--site", str(site_toml))
    assert refused.returncode == 1
    assert "form refused" in refused.output and "sheet survey, line 3" in refused.output
    assert [f["form_id"] for f in forms.forms()] == ["menage"]


def test_missing_media_refuses_the_form(app, db, tmp_path, java):
    from surveys import forms

    path = write_xlsform(tmp_path / "m" / "menage.xlsx", media={})
    with pytest.raises(forms.FormError, match="logo.png"):
        forms.import_xlsform(app.config["SITE"].data_dir, path)
    assert forms.forms() == []


def test_a_changed_form_needs_a_new_version(app, db, tmp_path, form_file):
    from surveys import forms

    data_dir = app.config["SITE"].data_dir
    forms.import_xlsform(data_dir, form_file)
    forms.import_xlsform(data_dir, form_file)  # the same again: nothing changes
    changed = write_xlsform(tmp_path / "v" / "menage.xlsx", title="Autre titre")
    with pytest.raises(forms.FormError, match="new version"):
        forms.import_xlsform(data_dir, changed)
    forms.set_state("menage", "closed")
    v2 = write_xlsform(tmp_path / "v2" / "menage.xlsx", version="2", title="Autre titre")
    forms.import_xlsform(data_dir, v2)
    assert forms.current("menage")["version"] == "2"
    assert forms.current("menage")["state"] == "closed"  # a new version does not reopen it
    assert forms.version_xml("menage", "1") is not None  # phones holding v1 can submit


def test_a_form_from_central_is_applied_by_the_sync_handler(app, db, form_file):
    import espace
    from appliance.sync import handlers
    from surveys import forms
    from sync_contract.xlsform import convert

    espace.default_registry()
    form = convert(form_file)
    payload = {
        "form_id": form.form_id,
        "version": form.version,
        "title": form.title,
        "xml": form.xml,
        "state": "open",
        "media": [
            {"name": "logo.png", "mime": "image/png", "data": base64.b64encode(PNG).decode()}
        ],
    }

    class Options:
        data_dir = app.config["SITE"].data_dir

    with db.atomic():
        assert handlers.apply("survey.form", payload, Options()) == "surveys"
    [row] = forms.forms()
    assert (row["form_id"], row["origin"], row["media"]) == ("menage", "central", 1)


def _toml(doc: dict) -> str:
    lines = []
    for section, values in doc.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, list):
                lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]".replace("'", '"'))
            else:
                lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def _espace(*args: str) -> subprocess.CompletedProcess:
    """The ``espace`` command as a technician runs it, in its own process."""
    done = subprocess.run(
        [sys.executable, "-c", "from espace.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    done.output = done.stdout + done.stderr
    return done
