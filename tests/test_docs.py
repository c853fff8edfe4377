"""The docs' lists match the code (as Datasette's tests/test_docs.py): the migrations
and the package table of docs/architecture.md, and README's layout."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_imports import PACKAGES

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _paragraph(text: str, start: str) -> str:
    """From the line starting with ``start`` to the next list item or blank line."""
    at = text.index(start)
    end = re.compile(r"\n(- |\n)").search(text, at + len(start))
    return text[at : end.start() if end else len(text)]


def test_documented_box_migrations_match_the_code():
    from appliance import migrations

    text = _paragraph(ARCHITECTURE, "- **Migrations**")
    documented = re.findall(r"`(\d{4}_\w+)`", text[: text.index("Central's steps")])
    code = [name.removeprefix("m") for name, _ in migrations.available()]
    missing, extra = sorted(set(code) - set(documented)), sorted(set(documented) - set(code))
    assert not missing and not extra, (
        f"docs/architecture.md's list of migrations (under **Migrations**) lacks {missing} "
        f"and names {extra} that appliance/migrations/ does not have: write each "
        "`NNNN_name` there with what it adds"
    )
    assert documented == sorted(documented), "list the migrations in number order"


def test_documented_central_migrations_match_the_code():
    from central import migrations

    text = _paragraph(ARCHITECTURE, "- **Migrations**")
    documented = re.findall(r"`(\d{4}_\w+)`", text[text.index("Central's steps") :])
    code = [name for name, _step in migrations.STEPS]
    assert documented == code, (
        f"docs/architecture.md's list of central's steps (under **Migrations**, after "
        f'"Central\'s steps") says {documented}; central/migrations.py has {code}: list '
        "each `NNNN_name` there, in order, with what it adds"
    )


def _package_rows() -> dict[str, str]:
    table = ARCHITECTURE[ARCHITECTURE.index("## Packages") :]
    return dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", table, re.M))


def test_package_table_lists_every_package():
    assert set(_package_rows()) == set(PACKAGES), (
        "docs/architecture.md's package table must have one row per top-level package"
    )


def test_files_the_package_table_names_exist():
    for package, row in _package_rows().items():
        for name in re.findall(r"`([\w/]+(?:\.py|/))`", row):
            path = ROOT / package / name
            assert path.exists(), f"docs/architecture.md names {package}/{name}: not found"


def test_readme_layout_names_every_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") : readme.index("## Running")]
    listed = set(re.findall(r"^(\w+)/ ", layout, re.M))
    assert set(PACKAGES) <= listed, f"README's layout lacks {set(PACKAGES) - listed}"


def test_pyproject_ships_every_package():
    """A package missing from pyproject's list would be missing from the wheel, hence
    from the SD image (image_build.python_env builds the wheel from that list)."""
    import tomllib

    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = doc["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = {name.rstrip("*") for name in include}
    assert set(PACKAGES) <= shipped, (
        f"pyproject.toml's [tool.setuptools.packages.find] include lacks "
        f'{sorted(set(PACKAGES) - shipped)}: add each as "name*"'
    )
