"""``espace network``: render, apply and inspect the box's network configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance import settings
from appliance.cli_options import SITE_OPTION


@click.group()
def network() -> None:
    """The hotspot: hostapd, dnsmasq, nftables and the services of the box."""


@network.command("render")
@SITE_OPTION
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--espace-bin", default="/usr/local/bin/espace", show_default=True,
              help="Where the espace command is installed on the box.")
def render_cmd(site_path: str, directory: str, espace_bin: str) -> None:
    """Write every system file under DIRECTORY (mirroring /etc/...), for inspection."""
    from .render import render_system

    site = settings.load(site_path)
    for path in render_system(site, Path(directory), espace_bin=espace_bin, site_path=site_path
                              if Path(site_path).is_absolute() else "/etc/espace/site.toml"):
        click.echo(str(path))


@network.command("apply")
@SITE_OPTION
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Apply under another root (tests); services are reloaded only for /.")
def apply_cmd(site_path: str, root: str) -> None:
    """Write the files atomically to the system and reload the services; on failure,
    put the previous files back."""
    from .apply import apply

    site = settings.load(site_path)
    kwargs = {} if root == "/" else {"runner": lambda argv: None}
    changed = apply(site, Path(root), echo=click.echo, **kwargs)
    click.echo(f"{len(changed)} file(s) changed" if changed else "already up to date")


@network.command("status")
@SITE_OPTION
def status_cmd(site_path: str) -> None:
    """Mode, phones with a lease, accepted phones, uplink state."""
    from .status import collect, format_status

    for line in format_status(collect(settings.load(site_path))):
        click.echo(line)


@network.command("allowlist-helper", hidden=True)
@SITE_OPTION
@click.option("--listen", "listen", default=None, type=click.Path(dir_okay=False),
              help="Unix socket to serve (default: systemd's; without one, a single "
                   "request on stdin).")
def allowlist_helper(site_path: str, listen: str | None) -> None:
    """The root helper that changes the nftables allow-list for the web process
    (systemd: espace-allowlist.socket starts it on the first request)."""
    import os
    import signal

    from . import allowlist as al
    from . import quotas

    site = settings.load(site_path)
    backend = al.NftBackend(site.hotspot.subnet, quotas.Policy.from_site(site))
    if not (listen or os.environ.get("LISTEN_FDS")):
        al.serve_one(sys.stdin.buffer, sys.stdout.buffer, backend)
        return
    if backend.policy is not None and backend.nft.has_table():
        # At boot (or after a crash): the day's phones and their quota use back in
        # the kernel.
        try:
            click.echo(f"{backend.restore()} phone(s) restored with their quota use")
        except al.AllowlistError as e:
            click.echo(f"could not restore quotas: {e}", err=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        al.serve_forever(al.listening_socket(listen), backend,
                         tick=backend.save if backend.policy else None)
    finally:
        if backend.policy is not None:
            try:
                backend.save()
            except al.AllowlistError as e:
                click.echo(f"could not save quotas: {e}", err=True)


@network.command("reset-quotas")
@SITE_OPTION
def reset_quotas(site_path: str) -> None:
    """Give every accepted phone its full daily uplink quota again (run nightly)."""
    from . import allowlist as al

    al.backend_for(settings.load(site_path)).reset_quotas()
    click.echo("quotas reset")
