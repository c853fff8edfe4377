"""The ``espace`` command. Errors are one line naming the fix; exit code 2 for usage
errors; a traceback only for a bug."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from . import settings
from .errors import EspaceError, UsageError

SITE_OPTION = click.option(
    "--site", "site_path", envvar="ESPACE_SITE", default="/etc/espace/site.toml",
    show_default=True, type=click.Path(dir_okay=False), help="The box's site file.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="espace-connecte", message="espace %(version)s")
def cli() -> None:
    """Espace: the software of an espace connecté."""


# --- config ----------------------------------------------------------------------------


@cli.group()
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


# --- running ---------------------------------------------------------------------------


@cli.command()
@SITE_OPTION
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - the hotspot
@click.option("--port", default=80, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--kiosk-port", default=8081, show_default=True, type=click.IntRange(0, 65535),
              help="The kiosk's own listener on 127.0.0.1 (0: none).")
def serve(site_path: str, host: str, port: int, threads: int, kiosk_port: int) -> None:
    """Serve the appliance with the production WSGI server (waitress)."""
    from .app import create_app
    from .server import run

    os.environ["ESPACE_SITE"] = site_path
    run(create_app({"SITE_FILE": site_path}), host=host, port=port, threads=threads,
        kiosk_port=kiosk_port)


@cli.command()
@SITE_OPTION
def worker(site_path: str) -> None:
    """Run the scheduled jobs (sync, roll-ups, downloads, clean-up) until stopped."""
    from .app import create_app
    from .worker import run

    run(create_app({"SITE_FILE": site_path}))


@cli.command()
@click.option("--dir", "data_dir", default="var", show_default=True,
              type=click.Path(file_okay=False), help="Development data directory.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Create the data directory, then stop.")
def demo(data_dir: str, host: str, port: int, no_serve: bool) -> None:
    """Create a development data directory with demo content, then serve it."""
    from .app import create_app
    from .demo import create_demo
    from .server import run

    site_file = create_demo(Path(data_dir), echo=click.echo)
    if no_serve:
        click.echo(f"site file: {site_file}")
        return
    app = create_app({"SITE_FILE": str(site_file)})
    click.echo(f"Portal: http://{host}:{port}/")
    click.echo(f"Kiosk:  http://127.0.0.1:{port + 1}/kiosk/  (demo PIN: 1234)")
    run(app, host=host, port=port, threads=8, kiosk_port=port + 1)


@cli.command()
@SITE_OPTION
def doctor(site_path: str) -> None:
    """Check the config, database, disk, memory and system programs."""
    from .doctor import FAIL, run_checks

    failed = False
    for status, what, detail in run_checks(site_path):
        click.echo(f"{status:<4} {what}" + (f": {detail}" if detail else ""))
        failed = failed or status == FAIL
    sys.exit(1 if failed else 0)


def _add_content_group() -> None:
    # `espace content ...` lives with the library; its commands import lazily.
    from content_cache.cli import content

    cli.add_command(content)


_add_content_group()


def _add_network_group() -> None:
    # `espace network ...`: the hotspot's system configuration (provisioning).
    from provisioning.network_cli import network

    cli.add_command(network)


_add_network_group()


def _add_sync_commands() -> None:
    # `espace sync ...` and `espace enroll URL CODE`: the sync with central.
    from .sync.cli import enroll, sync

    cli.add_command(sync)
    cli.add_command(enroll)


_add_sync_commands()


def _add_image_and_fleet_groups() -> None:
    # `espace image ...` (SD images) and `espace fleet ...` (boxes over SSH, mDNS).
    from image_build.cli import image
    from provisioning.fleet_cli import fleet

    cli.add_command(image)
    cli.add_command(fleet)


_add_image_and_fleet_groups()


def main() -> None:
    """Entry point: run the CLI, turning expected errors into one line."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except EspaceError as e:
        prefix = "espace: error: " if not isinstance(e, UsageError) else "espace: usage: "
        for line in str(e).splitlines():
            click.echo(prefix + line, err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
