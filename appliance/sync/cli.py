"""``espace sync status|now|export DIR|import DIR`` and ``espace enroll URL CODE``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..cli_options import SITE_OPTION


def _open(site_path: str):
    from .. import migrations, settings
    from ..db import open_database
    from ..service_user import become_data_owner

    site = settings.load(site_path)
    become_data_owner(site.data_dir)  # sudo espace sync ...: downloads stay the services'
    db = open_database(site.data_dir)
    migrations.migrate(db)
    return site, db


@click.group()
def sync() -> None:
    """Sync with central: status, a run now, USB export and import."""


@sync.command("status")
@SITE_OPTION
def status(site_path: str) -> None:
    """What is waiting, what was spent today, when the last sync ran."""
    from . import status as st

    site, db = _open(site_path)
    try:
        for key, value in st.status(site).items():
            click.echo(f"{key}: {value}")
    finally:
        db.close()


@sync.command("now")
@SITE_OPTION
@click.option("--ignore-windows", is_flag=True, help="Run outside the sync windows.")
def now(site_path: str, ignore_windows: bool) -> None:
    """Sync once now (the budget still applies)."""
    from .client import Options, SyncClient

    site, db = _open(site_path)
    try:
        with SyncClient(Options.from_site(site)) as client:
            click.echo(client.run(force=ignore_windows).summary())
    finally:
        db.close()


@sync.command("export")
@SITE_OPTION
@click.argument("directory", type=click.Path(file_okay=False))
def export_cmd(site_path: str, directory: str) -> None:
    """Write the pending batches (signed) to DIRECTORY, e.g. a USB stick."""
    from .client import Options
    from .sneakernet import export

    site, db = _open(site_path)
    try:
        stats = export(Path(directory), Options.from_site(site))
    finally:
        db.close()
    click.echo(f"wrote {stats['batches']} batches ({stats['events']} events) and "
               f"{stats['blobs']} voice notes to {directory}")


@sync.command("import")
@SITE_OPTION
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def import_cmd(site_path: str, directory: str) -> None:
    """Apply central's signed answers, acknowledgements and files from DIRECTORY."""
    from .client import Options
    from .sneakernet import import_

    site, db = _open(site_path)
    try:
        stats = import_(Path(directory), Options.from_site(site))
    finally:
        db.close()
    click.echo(f"applied {stats['responses']} responses, {stats['pulled']} records, "
               f"{stats['files']} files ({stats['refused']} refused)")


@click.command()
@SITE_OPTION
@click.argument("url")
@click.argument("code")
def enroll(site_path: str, url: str, code: str) -> None:
    """Register this box with central at URL using a one-time CODE."""
    from .. import __version__
    from .enroll import enroll as do_enroll

    site, db = _open(site_path)
    try:
        answer = do_enroll(url, code, site.data_dir, site.central.ca_file, __version__)
    finally:
        db.close()
    click.echo(f"enrolled as site {answer['site_id']} ({answer.get('region', '')}) at "
               f"{url} on {dt.date.today().isoformat()}")
