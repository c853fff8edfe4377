"""``espace map``: build, install and check the area's offline map."""

from __future__ import annotations

import sys

import click

from appliance.cli_options import SITE_OPTION


@click.group("map")
def map_group() -> None:
    """The commune's offline map (PMTiles) and its directory."""


def _progress(step: int, what: str) -> None:
    from .build import STEPS

    # One line, rewritten in place on a terminal; one line per step otherwise (logs).
    line = f"[{step}/{STEPS}] {what}"
    if sys.stderr.isatty():
        click.echo(f"\r\x1b[2K{line}", nl=False, err=True)
    else:
        click.echo(line, err=True)


def _summary(s, extra: str = "") -> str:
    w, so, e, n = s.bounds
    return (
        f"{s.path}: {s.size / 1e6:.2f} MB, {s.tiles} tiles, zoom {s.min_zoom}-"
        f"{s.max_zoom}, bounds {w:.4f},{so:.4f},{e:.4f},{n:.4f}, layers "
        f"{', '.join(s.layers)}{extra}"
    )


@map_group.command("build")
@SITE_OPTION
@click.argument("extract", type=click.Path(dir_okay=False))
def build_cmd(site_path: str, extract: str) -> None:
    """Build map.area's vector tiles from an OpenStreetMap EXTRACT (.osm.pbf or .osm)
    and put them in service once checked."""
    from appliance import settings

    from .build import build

    site = settings.load(site_path)
    r = build(extract, site, _progress)
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(
        _summary(
            r.summary,
            f"; built in {r.seconds:.1f} s, {r.summary.size / 1e3 / max(r.km2, 1e-9):.1f} kB/km²",
        )
    )


@map_group.command("install")
@SITE_OPTION
@click.argument("pmtiles", type=click.Path(dir_okay=False))
def install_cmd(site_path: str, pmtiles: str) -> None:
    """Put a PMTILES file built elsewhere (central, another box) in service once checked."""
    from appliance import settings

    from .build import install

    click.echo(_summary(install(pmtiles, settings.load(site_path))))


@map_group.command("check")
@click.argument("pmtiles", type=click.Path(dir_okay=False))
def check_cmd(pmtiles: str) -> None:
    """Read a PMTILES file back (header, directories, tiles) and say what it holds."""
    from .pmtiles_file import check

    click.echo(_summary(check(pmtiles)))
