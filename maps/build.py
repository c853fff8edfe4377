"""``espace map build``: the area's offline vector tiles, from an OpenStreetMap extract.

Four steps, each a well-kept tool: Debian's ``osmium`` clips the extract to the site
file's ``map.area``; Debian's ``tilemaker`` (2.2: MBTiles out, no PMTiles) cuts vector
tiles with our layer rules (``tiles/process.lua``: the layer and ``kind`` names
protomaps-leaflet draws); the ``pmtiles`` library converts them to one PMTiles file;
:func:`maps.pmtiles_file.check` reads it back. Only a checked file within
``map.budget_mb`` replaces the one in service, by an atomic rename: a power cut or a
failed build leaves the old map serving.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess  # noqa: S404 -- osmium and tilemaker, argument lists, no shell
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import EspaceError
from sync_contract.atomic import fsync_dir

from .pmtiles_file import MapFileError, MapSummary, check

TILES_DIR = Path(__file__).parent / "tiles"
MAP_NAME = "area.pmtiles"
STEPS = 4

Progress = Callable[[int, str], None]


class BuildError(EspaceError):
    """The map could not be built; the map in service is untouched."""


@dataclass
class BuildResult:
    summary: MapSummary
    seconds: float
    km2: float


def map_path(data_dir: Path) -> Path:
    return Path(data_dir) / "maps" / MAP_NAME


def area_km2(area: list[float]) -> float:
    """Surface of a lon/lat box, in km² (spherical Earth; good to a few per cent)."""
    import math

    w, s, e, n = area
    r = 6371.0088
    return math.radians(e - w) * r * r * abs(math.sin(math.radians(n)) - math.sin(math.radians(s)))


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BuildError(
            f"{name} is not installed", f"apt-get install --no-install-recommends {package}"
        )
    return path


def _run(
    args: list[str], what: str, cwd: Path, on_line: Callable[[str], None] | None = None
) -> None:
    tail: list[str] = []
    with subprocess.Popen(  # noqa: S603 -- our tools, an argument list
        args,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as proc:
        assert proc.stdout is not None
        buf = b""
        while chunk := proc.stdout.read1(4096):
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    tail = (tail + [line])[-5:]
                    if on_line:
                        on_line(line)
    if proc.wait() != 0:
        raise BuildError(
            f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}",
            "check the extract is an OpenStreetMap file (.osm.pbf or .osm) that covers map.area",
        )


def build(extract: str | Path, site, progress: Progress | None = None) -> BuildResult:
    """Build ``map.area``'s tiles from ``extract`` and put them in service."""
    area = list(site.map.area)
    if not area:
        raise BuildError(
            "map.area is empty in the site file",
            "set map.area = [min_lon, min_lat, max_lon, max_lat] under [map]",
        )
    extract = Path(extract)
    if not extract.is_file():
        raise BuildError(
            f"{extract}: no such file", "give an OpenStreetMap extract, e.g. mali-latest.osm.pbf"
        )
    osmium = _tool("osmium", "osmium-tool")
    tilemaker = _tool("tilemaker", "tilemaker")
    say = progress or (lambda step, what: None)
    target = map_path(site.data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    bbox = ",".join(f"{v:.7f}" for v in area)
    # The work happens beside the target (same file system: the final rename is atomic);
    # a cut build leaves a .build-* folder that the start-up sweep removes.
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    # Held while the build runs: the sweep leaves a locked build alone (a build run from
    # the CLI while the web app or the worker starts and sweeps).
    lock = os.open(work / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        say(1, f"clipping {extract.name} to the area")
        clipped = work / "area.osm.pbf"
        _run(
            [
                osmium,
                "extract",
                "--no-progress",
                "--overwrite",
                "-b",
                bbox,
                "-o",
                str(clipped),
                str(extract.resolve()),
            ],
            "osmium extract",
            work,
        )

        say(2, "cutting vector tiles (tilemaker)")
        config = json.loads((TILES_DIR / "config.json").read_text())
        max_zoom = int(site.map.max_zoom)
        config["settings"]["maxzoom"] = config["settings"]["basezoom"] = max_zoom
        for layer in config["layers"].values():
            layer["maxzoom"] = max_zoom
            layer["minzoom"] = min(layer["minzoom"], max_zoom)
        (work / "config.json").write_text(json.dumps(config))
        mbtiles = work / "area.mbtiles"

        def tile_line(line: str) -> None:
            m = re.search(r"[Zz]oom level (\d+), writing tile (\d+) of (\d+)", line)
            if m:
                say(2, f"cutting vector tiles: zoom {m[1]}, tile {m[2]} of {m[3]}")

        _run(
            [
                tilemaker,
                "--input",
                str(clipped),
                "--output",
                str(mbtiles),
                "--config",
                str(work / "config.json"),
                "--process",
                str(TILES_DIR / "process.lua"),
                "--bbox",
                bbox,
                "--threads",
                "1",
            ],
            "tilemaker",
            work,
            tile_line,
        )

        say(3, "converting to PMTiles")
        from pmtiles.convert import mbtiles_to_pmtiles

        built = work / MAP_NAME
        try:
            mbtiles_to_pmtiles(str(mbtiles), str(built), max_zoom)
        except Exception as e:  # the converter raises whatever sqlite3 or its writer does
            raise BuildError(
                f"converting tilemaker's MBTiles to PMTiles failed: {e}",
                "check the extract covers map.area (no tiles were made?)",
            ) from None

        say(4, "checking the result")
        summary = _accept(built, site)
        with built.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(built, target)
        fsync_dir(target.parent)
        summary.path = str(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(lock)
    return BuildResult(summary, time.monotonic() - started, area_km2(area))


def _accept(path: Path, site) -> MapSummary:
    try:
        summary = check(path)
    except MapFileError as e:
        raise BuildError(
            f"the built map does not read back: {e.args[0]}",
            "report this build's extract; the old map stays in service",
        ) from None
    budget = int(site.map.budget_mb) * 1_000_000
    if summary.size > budget:
        raise BuildError(
            f"the map is {summary.size / 1e6:.1f} MB, over map.budget_mb = {site.map.budget_mb}",
            "lower map.max_zoom, shrink map.area or raise map.budget_mb; the "
            "old map stays in service",
        )
    return summary


def install(source: str | Path, site) -> MapSummary:
    """Put a PMTiles file made elsewhere (central, another box) in service, after the
    same check and budget as a build."""
    source = Path(source)
    target = map_path(site.data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".build-", suffix=".pmtiles", dir=target.parent)
    lock = os.open(tmp, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # held to the end: the sweep leaves the copy alone
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        summary = _accept(Path(tmp), site)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError as e:
        raise BuildError(
            f"{source}: cannot copy it: {e.strerror}", "check the path and the free space"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        os.close(lock)
    summary.path = str(target)
    return summary


def _in_use(p: Path) -> bool:
    """A live build or install holds its lock (the folder's .lock, or the copy itself)."""
    target = p / ".lock" if p.is_dir() else p
    try:
        fd = os.open(target, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def sweep(data_dir: Path) -> int:
    """Remove what a cut build left (``.build-*`` beside the map), leaving a live one
    alone; returns how many were removed."""
    folder = Path(data_dir) / "maps"
    n = 0
    for p in folder.glob(".build-*") if folder.is_dir() else ():
        if _in_use(p):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        n += 1
    return n


def sweep_site(site) -> str:
    n = sweep(site.data_dir)
    return f"removed {n} cut map build(s)" if n else ""
