"""Options shared by every package's ``espace`` commands, declared once.

A leaf module (it imports only click): a package's CLI imports it without importing
the ``espace`` command itself, which is what made ``import appliance.sync.cli`` fail
alone (a circular import through :mod:`appliance.cli`)."""

from __future__ import annotations

import click

SITE_OPTION = click.option(
    "--site",
    "site_path",
    envvar="ESPACE_SITE",
    default="/etc/espace/site.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The box's site file.",
)
