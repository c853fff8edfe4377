"""``espace tls status`` and ``espace tls nginx-conf``: the secure origin on the box."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from appliance.cli_options import SITE_OPTION


@click.group()
def tls() -> None:
    """The box's name, certificate and TLS listener (docs/secure-origin.md)."""


@tls.command("status")
@SITE_OPTION
@click.option("--json", "as_json", is_flag=True)
def status_cmd(site_path: str, as_json: bool) -> None:
    """The name central gave this box and its certificate's expiry. Exit 1 when the
    box has no valid certificate (visitors stay on plain HTTP)."""
    from appliance import settings

    from . import store

    site = settings.load(site_path)
    held = store.status(site.data_dir)
    if as_json:
        click.echo(json.dumps(held.as_dict()))
    else:
        click.echo(line(held))
    sys.exit(0 if held.valid else 1)


def line(held) -> str:
    if held.valid:
        return f"https://{held.name}/ until {held.not_after:%Y-%m-%d %H:%M} UTC"
    until = f" (until {held.not_after:%Y-%m-%d %H:%M} UTC)" if held.not_after else ""
    return f"plain HTTP only: {held.reason}{until}" + (f"; name {held.name}" if held.name else "")


@tls.command("nginx-conf")
@SITE_OPTION
@click.option(
    "--run-dir",
    default="/run/espace-tls",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where nginx.conf and nginx's files go.",
)
@click.option(
    "--upstream",
    default="127.0.0.1:80",
    show_default=True,
    help="The portal's waitress, on loopback.",
)
@click.option("--user", default="www-data", show_default=True, help="nginx's worker user.")
def nginx_conf(site_path: str, run_dir: str, upstream: str, user: str) -> None:
    """Write nginx.conf for the TLS listener (espace-tls.service runs it first)."""
    from appliance import settings

    from . import listener

    site = settings.load(site_path)
    path = listener.write_nginx(
        site.data_dir,
        Path(run_dir),
        listen=f"{site.hotspot.address}:{site.secure_origin.port}",
        upstream=upstream,
        max_body=site.board.max_voice_bytes + 2 * 2**20,
        user=user,
    )
    click.echo(str(path))
