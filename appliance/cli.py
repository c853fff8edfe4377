"""The core's ``espace`` commands: ``config`` and ``doctor`` (contributed by
:func:`appliance.contribute`). The command itself, with every package's groups, is
made by :mod:`espace.cli`; ``main`` and ``cli`` here are thin aliases of it, kept for
the tools and tests that import them."""

from __future__ import annotations

import getpass
import sys

import click

from . import settings
from .cli_options import SITE_OPTION

# --- config ----------------------------------------------------------------------------


@click.group()
def config() -> None:
    """Check and write site files."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """Validate FILE; print every problem, each with the key and a good example."""
    site = settings.load(file)
    click.echo(f"{file}: OK (site {site.site.id}, {len(settings.SETTINGS)} settings checked)")


@config.command("example")
def config_example() -> None:
    """Print a commented site.toml with every setting."""
    click.echo(settings.example())


@config.command("hash-pin")
@click.option("--pin", envvar="ESPACE_PIN", help="The PIN (default: asked, not echoed).")
def config_hash_pin(pin: str | None) -> None:
    """Print the hash of a facilitator's PIN, for kiosk.facilitators in site.toml."""
    from .pins import hash_pin

    if pin is None:
        pin = getpass.getpass("PIN (4 to 8 digits): ")
    click.echo(hash_pin(pin))


@click.command()
@SITE_OPTION
def doctor(site_path: str) -> None:
    """Check the config, database, disk, memory and system programs."""
    from .doctor import FAIL, run_checks

    failed = False
    for status, what, detail in run_checks(site_path):
        click.echo(f"{status:<4} {what}" + (f": {detail}" if detail else ""))
        failed = failed or status == FAIL
    sys.exit(1 if failed else 0)


def main() -> None:
    """The ``espace`` command: see :func:`espace.cli.main`."""
    from espace.cli import main as composed

    composed()


def __getattr__(name: str):
    # ``from appliance.cli import cli``: the whole command, made by espace (lazily, so
    # that importing this module never imports the composition root).
    if name == "cli":
        from espace.cli import cli

        return cli
    raise AttributeError(name)
