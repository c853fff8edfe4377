"""``espace survey``: import XLSForms (from a USB stick), list forms, open or close one,
make enumerator accounts for ODK Collect."""

from __future__ import annotations

import click

from appliance.cli_options import SITE_OPTION


def _open(site_path: str):
    from appliance import db, migrations, settings
    from appliance.service_user import become_data_owner

    site = settings.load(site_path)
    become_data_owner(site.data_dir)  # sudo espace survey ...: forms stay the services'
    site.data_dir.mkdir(parents=True, exist_ok=True)
    database = db.open_database(site.data_dir)
    migrations.migrate(database)
    return site


@click.group()
def survey() -> None:
    """Field surveys for ODK Collect and KoboCollect (server URL: http://<box>/odk)."""


@survey.command("import")
@SITE_OPTION
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--media",
    "media_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of the form's media (default: beside the file, or NAME-media/).",
)
def import_(site_path: str, path: str, media_dir: str | None) -> None:
    """Convert an XLSForm (.xlsx), check it with ODK Validate and offer it to phones."""
    from sync_contract.xlsform import FormRefused

    from . import forms

    site = _open(site_path)
    try:
        form = forms.import_xlsform(site.data_dir, path, media_dir)
    except FormRefused as e:
        raise click.ClickException(f"form refused: {e}") from None
    except forms.FormError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"imported {form.form_id} version {form.version or '-'} ({form.title}), "
        f"{len(form.media)} media file(s)"
    )


@survey.command("list")
@SITE_OPTION
def list_(site_path: str) -> None:
    """Forms on this box with their submission counts."""
    from . import forms

    _open(site_path)
    for f in forms.forms():
        click.echo(
            f"{f['form_id']}\t{f['version'] or '-'}\t{f['state']}\t"
            f"{f['submissions']} submission(s)\t{f['title']}"
        )


@survey.command("state")
@SITE_OPTION
@click.argument("form_id")
@click.argument("state", type=click.Choice(["open", "closed"]))
def state(site_path: str, form_id: str, state: str) -> None:
    """Open or close a form (a closed form takes no more submissions)."""
    from . import forms

    _open(site_path)
    try:
        forms.set_state(form_id, state)
    except forms.FormError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{form_id}: {state}")


@survey.command("public")
@SITE_OPTION
@click.argument("form_id")
@click.argument("answer", type=click.Choice(["yes", "no"]))
def public(site_path: str, form_id: str, answer: str) -> None:
    """Let anyone on the hotspot fill a form in the phone's browser (yes), or only
    enumerators who log in there (no, the default)."""
    from . import forms

    _open(site_path)
    try:
        forms.set_public(form_id, answer == "yes")
    except forms.FormError as e:
        raise click.ClickException(str(e)) from None
    who = "anyone on the hotspot" if answer == "yes" else "enumerators who log in"
    click.echo(f"{form_id}: in the browser, {who} (http://<box>/forms)")


@survey.command("enumerator")
@SITE_OPTION
@click.argument("username")
@click.password_option("--password", help="The enumerator's password (asked if not given).")
def enumerator(site_path: str, username: str, password: str) -> None:
    """Make (or give a new password to) an enumerator account for ODK Collect."""
    from appliance.errors import EspaceError

    from . import digest

    _open(site_path)
    try:
        digest.add_enumerator(username, password)
    except EspaceError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"enumerator {username} can log in from ODK Collect")
