"""``espace fleet discover|status|logs|exec|upgrade|push-content|forget``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

HOSTS = click.argument("hosts", nargs=-1, required=True)


def _common(f):
    options = [
        click.option("--accept", "accept", multiple=True, metavar="SHA256:...",
                     help="Pin this host-key fingerprint for a box seen for the first time "
                          "(read it from the box's identity.txt or console)."),
        click.option("--known-hosts", type=click.Path(dir_okay=False),
                     help="Pinned host keys (default ~/.config/espace/known_hosts)."),
        click.option("-i", "--identity", "identity", type=click.Path(exists=True,
                     dir_okay=False), help="Your SSH private key (default: agent, ~/.ssh)."),
        click.option("--port", default=22, show_default=True, type=click.IntRange(1, 65535)),
        click.option("--user", default="root", show_default=True),
        click.option("-j", "--jobs", default=4, show_default=True, type=click.IntRange(1, 32),
                     help="Boxes handled at once."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


@click.group()
def fleet() -> None:
    """Find the boxes on the LAN; look after them over SSH."""


@fleet.command()
@click.option("--timeout", default=3.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="Seconds to listen for answers.")
def discover(timeout: float) -> None:
    """List the boxes advertising _espace._tcp on this LAN (mDNS)."""
    from .mdns import discover as find

    boxes = find(timeout)
    if not boxes:
        click.echo("no box answered (same LAN? try a longer --timeout)", err=True)
        sys.exit(1)
    click.echo(f"{'SITE':<20} {'ADDRESS':<16} {'VERSION':<10} {'HOST':<32} NAME")
    for b in boxes:
        click.echo(f"{b.site_id:<20} {b.address:<16} {b.version:<10} "
                   f"{b.host.rstrip('.'):<32} {b.site_name}")
    by_site: dict[str, list] = {}
    for b in boxes:
        by_site.setdefault(b.site_id, []).append(b)
    for site_id, same in sorted(by_site.items()):
        if len(same) > 1:  # two cards flashed with one site file
            click.echo(f"warning: {len(same)} boxes announce site {site_id!r} ("
                       + ", ".join(b.address for b in same) + "): give each card its own "
                       "site file (site.id)", err=True)


def _run(hosts, operation, accept, known_hosts, identity, port, user, jobs) -> None:
    from .fleet import PinStore, Target, default_known_hosts, run_many

    store = PinStore(Path(known_hosts) if known_hosts else default_known_hosts())
    targets = [Target.parse(h, port=port, user=user) for h in hosts]

    def done(i: int, n: int, r) -> None:
        mark = "ok" if r.ok else "FAILED"
        click.echo(f"[{i}/{n}] {r.target}: {mark}", err=True)

    results = run_many(targets, operation, store, accept=accept, key_filename=identity,
                       jobs=jobs, on_done=done if len(targets) > 1 else None)
    failed = 0
    for r in results:
        prefix = f"{r.target}: " if len(results) > 1 else ""
        if r.ok:
            for line in r.text.splitlines() or [""]:
                click.echo(prefix + line)
        else:
            failed += 1
            click.echo(f"espace: error: {r.error}" + (f" (fix: {r.fix})" if r.fix else ""),
                       err=True)
    if failed:
        sys.exit(1)


@fleet.command()
@HOSTS
@_common
def status(hosts, **kw) -> None:
    """Identity, version, services, free space and load of each box."""
    from .fleet import status as op

    _run(hosts, op, **kw)


@fleet.command()
@HOSTS
@click.option("--unit", default="espace-web", show_default=True)
@click.option("-n", "--lines", default=50, show_default=True, type=click.IntRange(1, 10000))
@_common
def logs(hosts, unit: str, lines: int, **kw) -> None:
    """The last lines of a unit's journal on each box."""
    from .fleet import logs as op

    _run(hosts, lambda s: op(s, unit, lines), **kw)


@fleet.command("exec")
@click.argument("command")
@HOSTS
@_common
def exec_(command: str, hosts, **kw) -> None:
    """Run COMMAND on each box (as the SSH user)."""
    from .fleet import execute

    _run(hosts, lambda s: execute(s, command), **kw)


@fleet.command()
@click.argument("wheel", type=click.Path(exists=True, dir_okay=False))
@HOSTS
@_common
def upgrade(wheel: str, hosts, **kw) -> None:
    """Install an Espace WHEEL on each box (data partition), restart, roll back on failure."""
    from .fleet import upgrade as op
    from .fleet import wheel_version

    wheel_version(Path(wheel))  # a wrong file is refused before any connection
    _run(hosts, lambda s: op(s, Path(wheel)), **kw)


@fleet.command("push-content")
@click.argument("zim", type=click.Path(exists=True, dir_okay=False))
@HOSTS
@_common
def push_content(zim: str, hosts, **kw) -> None:
    """Copy a ZIM file to each box and import it into its library."""
    from .fleet import push_content as op

    _run(hosts, lambda s: op(s, [Path(zim)]), **kw)


@fleet.command()
@HOSTS
@click.option("--known-hosts", type=click.Path(dir_okay=False))
@click.option("--port", default=22, show_default=True, type=click.IntRange(1, 65535))
def forget(hosts, known_hosts: str | None, port: int) -> None:
    """Remove the pinned host key of a box (after reflashing its card)."""
    from .fleet import PinStore, Target, default_known_hosts

    store = PinStore(Path(known_hosts) if known_hosts else default_known_hosts())
    for h in hosts:
        t = Target.parse(h, port=port)
        click.echo(f"{t}: {'forgotten' if store.forget(t.key_name) else 'was not pinned'}")
