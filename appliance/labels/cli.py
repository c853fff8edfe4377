"""``espace i18n``: the labels facilitators corrected at the kiosks, as catalogues."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_options import SITE_OPTION


@click.group("i18n")
def i18n() -> None:
    """Translations: export the corrections made at the kiosks."""


@i18n.command("export")
@SITE_OPTION
@click.argument("out_dir", type=click.Path(file_okay=False))
def export(site_path: str, out_dir: str) -> None:
    """Write OUT_DIR/<lang>/LC_MESSAGES/messages.po for each language with corrections
    (this box's and those synced from the region's), to merge into
    appliance/translations with `pybabel` or `scripts/i18n-table`."""
    from .. import db, migrations, settings
    from .export import write_catalogues

    site = settings.load(site_path)
    # It writes OUT_DIR (anywhere the technician chooses), and in the data directory
    # only through SQLite, which keeps an existing database's files their owner's.
    exists = (site.data_dir / db.DB_NAME).exists()
    database = db.open_database(site.data_dir, as_root=exists)
    migrations.migrate(database)
    try:
        written = write_catalogues(Path(out_dir), site.site.id)
    finally:
        database.close()
    for path, n in written:
        click.echo(f"{path}: {n} correction(s)")
    if not written:
        click.echo("no corrections yet")
