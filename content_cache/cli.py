"""``espace content``: put ZIM files on the box, download them, list and remove them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance.cli_options import SITE_OPTION


def _open(site_path: str):
    from appliance import db, migrations, settings
    from appliance.service_user import become_data_owner

    site = settings.load(site_path)
    become_data_owner(site.data_dir)  # sudo espace content ...: the library stays the services'
    site.data_dir.mkdir(parents=True, exist_ok=True)
    database = db.open_database(site.data_dir)
    migrations.migrate(database)
    site.content_dir.mkdir(parents=True, exist_ok=True)
    return site


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


@click.group()
def content() -> None:
    """The offline library: ZIM files (MOOCs, manuals, encyclopaedias)."""


@content.command("import")
@SITE_OPTION
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--replace", is_flag=True, help="Replace a book of the same name.")
def import_(site_path: str, paths: tuple[str, ...], replace: bool) -> None:
    """Copy ZIM files (or every .zim of a folder, e.g. a USB stick) into the library,
    verified and installed atomically."""
    from .store import ContentError, import_zim

    site = _open(site_path)
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.zim")) if p.is_dir() else [p])
    if not files:
        raise click.UsageError("no .zim file there")
    failed = installed = 0
    for f in files:
        try:
            with click.progressbar(length=f.stat().st_size, label=f.name,
                                   file=sys.stderr) as bar:
                dest = import_zim(f, site.content_dir, site.storage.reserve_mb, replace,
                                  progress=bar.update)
            click.echo(f"installed {dest.stem}")
            installed += 1
        except ContentError as e:
            if len(files) == 1:
                raise
            failed += 1
            click.echo(f"espace: error: {e}", err=True)
    if installed:
        _precompress(site)
    if failed:
        raise SystemExit(1)


def _precompress(site) -> None:
    """Build the missing precompressed stores, with a progress bar per book."""
    from .precompressed import build_missing

    bars: list = []

    def progress_for(name: str):
        bar = click.progressbar(length=1, label=f"{name}: compressing text once",
                                file=sys.stderr)
        bars.append(bar)

        def update(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)
        return update

    try:
        results = build_missing(site.content_dir, reserve_mb=site.storage.reserve_mb,
                                budget_mb=site.storage.precompressed_mb,
                                progress_for=progress_for)
    finally:
        for bar in bars:
            bar.render_finish()
    for r in results:
        click.echo(f"precompressed {r}")


@content.command()
@SITE_OPTION
def precompress(site_path: str) -> None:
    """Compress the text of every book once, so the box serves pages without
    decompressing the ZIM each time (the worker does it too; this does it now).
    Resumes a build cut by a power failure; stays within storage.precompressed_mb."""
    _precompress(_open(site_path))


@content.command()
@SITE_OPTION
@click.argument("url")
@click.option("--sha256", default="", help="Expected SHA-256 (default: URL.sha256 if the "
              "server has it; the ZIM's own checksum is always checked).")
@click.option("--name", default=None, help="Book name (default: from the URL).")
@click.option("--ignore-budget", is_flag=True, help="Do not stop at sync.daily_budget_mb.")
def fetch(site_path: str, url: str, sha256: str, name: str | None, ignore_budget: bool) -> None:
    """Download a ZIM (resumable: run it again after a cut) and install it."""
    from .fetch import fetch as do_fetch

    site = _open(site_path)
    bar = click.progressbar(length=1, label=name or url.rsplit("/", 1)[-1],
                            file=sys.stderr)

    def on_progress(received: int, total: int) -> None:
        bar.length = max(total, received, 1)
        bar.update(received - bar.pos)

    with bar:
        path = do_fetch(site, url, sha256, name, on_progress, respect_budget=not ignore_budget)
    click.echo(f"installed {path.stem}")
    _precompress(site)


@content.command("list")
@SITE_OPTION
def list_(site_path: str) -> None:
    """The books of the library, and downloads in progress."""
    from .fetch import progress
    from .library import library_for
    from .precompressed import store_path

    site = _open(site_path)
    books = library_for(site.content_dir).books()
    for b in books:
        fast = store_path(site.content_dir, b.name, b.uuid)
        click.echo(f"{b.name:<32} {b.language:<4} {_mb(b.size):>10}  {b.article_count:>7} "
                   f"articles  {b.title}" + ("  [course]" if b.is_mooc else "")
                   + (f"  [precompressed {_mb(fast.stat().st_size)}]" if fast.is_file()
                      else ""))
    known = {b.path.name for b in books}
    for p in sorted(site.content_dir.glob("*.zim")):
        if p.name not in known:
            click.echo(f"{p.stem:<32} UNREADABLE (remove it, then import it again)")
    for d in progress():
        pct = f"{d['percent']}%" if d["percent"] is not None else _mb(d["received"])
        click.echo(f"{d['name']:<32} download {d['state']} {pct}"
                   + (f" ({d['error']})" if d["error"] else ""))
    if not books:
        click.echo("no books yet: espace content import /media/usb")


@content.command()
@SITE_OPTION
@click.argument("name")
def remove(site_path: str, name: str) -> None:
    """Remove a book from the library."""
    from .store import remove as do_remove

    site = _open(site_path)
    do_remove(name, site.content_dir)
    click.echo(f"removed {name}")
