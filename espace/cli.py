"""The ``espace`` command: the root's own commands (``serve``, ``worker``, ``demo``: the
box's processes) and every group a package contributes (``config``, ``doctor``,
``sync``, ``content``, ``network``, ``image``, ``fleet``...). Errors are one line
naming the fix; exit code 2 for usage errors; a traceback only for a bug."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from appliance.cli_options import SITE_OPTION
from appliance.errors import EspaceError, UsageError

from .registry import Registry, RegistryError


class _ContributedGroup(click.Group):
    """The root group; the contributed commands join it the first time a command is
    looked up, so that ``import espace.cli`` imports no package. Loading them builds
    this process's registry: every package's pull handlers are registered before any
    command (``espace sync now`` included) runs."""

    registry: Registry | None = None  # None: this process's (espace.default_registry)
    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            from . import default_registry

            self._loaded = True
            for cmd in (self.registry or default_registry()).commands:
                if cmd.name in self.commands:
                    raise RegistryError(f"two commands are named {cmd.name}")
                self.add_command(cmd)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_ContributedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="espace-connecte", message="espace %(version)s")
def cli() -> None:
    """Espace: the software of an espace connecté."""


# --- running ---------------------------------------------------------------------------


@cli.command()
@SITE_OPTION
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - the hotspot
@click.option("--port", default=80, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--kiosk-port",
    default=8081,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The kiosk's own listener on 127.0.0.1 (0: none).",
)
def serve(site_path: str, host: str, port: int, threads: int, kiosk_port: int) -> None:
    """Serve the appliance with the production WSGI server (waitress)."""
    from appliance.server import run

    from .app import create_app

    os.environ["ESPACE_SITE"] = site_path
    run(
        create_app({"SITE_FILE": site_path}),
        host=host,
        port=port,
        threads=threads,
        kiosk_port=kiosk_port,
    )


@cli.command()
@SITE_OPTION
def worker(site_path: str) -> None:
    """Run the scheduled jobs (sync, roll-ups, downloads, clean-up) until stopped."""
    from .app import create_app
    from .worker import run

    run(create_app({"SITE_FILE": site_path}))


@cli.command()
@click.option(
    "--dir",
    "data_dir",
    default="var",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Development data directory.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Create the data directory, then stop.")
def demo(data_dir: str, host: str, port: int, no_serve: bool) -> None:
    """Create a development data directory with demo content, then serve it."""
    from appliance.demo import create_demo
    from appliance.server import run

    from .app import create_app

    site_file = create_demo(Path(data_dir), echo=click.echo)
    if no_serve:
        click.echo(f"site file: {site_file}")
        return
    app = create_app({"SITE_FILE": str(site_file)})
    click.echo(f"Portal: http://{host}:{port}/")
    click.echo(f"Kiosk:  http://127.0.0.1:{port + 1}/kiosk/  (demo PIN: 1234)")
    run(app, host=host, port=port, threads=8, kiosk_port=port + 1)


# The root's own commands: the box's processes.
ROOT_COMMANDS = (serve, worker, demo)


def make_cli(registry: Registry) -> click.Group:
    """The ``espace`` command with ``registry``'s commands (the tests' extra packages)."""
    group = _ContributedGroup(
        name="espace",
        callback=cli.callback,
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
        commands={c.name: c for c in ROOT_COMMANDS},
    )
    group.registry = registry
    return group


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
    except PermissionError as e:
        # Most often a file under /root named to `sudo espace ...`, which runs as the
        # data's owner (appliance.service_user): say whose reach it is out of, not a traceback.
        import pwd

        user = pwd.getpwuid(os.getuid()).pw_name
        click.echo(
            f"espace: error: {e.filename or e}: permission denied for {user}, "
            "who runs this command",
            err=True,
        )
        click.echo(
            f"espace: fix: give {user} access to it, or copy it where {user} can "
            "read it (a USB stick, /var/tmp) and run the command again",
            err=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
