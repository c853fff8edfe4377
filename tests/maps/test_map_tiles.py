"""Offline vector tiles: built from a small OSM file by osmium + tilemaker + the pmtiles
converter, read back (header, directories, tiles), served by byte ranges; a corrupt,
truncated or over-budget file never replaces the map in service."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import deserialize_header, tileid_to_zxy, zxy_to_tileid

from appliance import settings
from maps.build import BuildError, build, install, map_path, sweep
from maps.pmtiles_file import MapFileError, check, vector_tile_layers

from .conftest import map_site
from .osm_sample import AREA, write_commune


def _site(tmp_path, **kw):
    return settings.validate(map_site(tmp_path, **kw), str(tmp_path / "site.toml"))


def test_built_map_is_pmtiles_v3_with_the_communes_layers(built_map):
    raw = built_map.read_bytes()
    h = deserialize_header(raw[:127])
    assert raw[:7] == b"PMTiles" and h["version"] == 3
    assert (h["min_zoom"], h["max_zoom"]) == (10, 15)
    # the header's bounds are the area's (tilemaker was given map.area)
    got = [
        h["min_lon_e7"] / 1e7,
        h["min_lat_e7"] / 1e7,
        h["max_lon_e7"] / 1e7,
        h["max_lat_e7"] / 1e7,
    ]
    assert got == pytest.approx(AREA, abs=1e-3)
    # the directory addresses every tile, each readable as a vector tile
    with built_map.open("rb") as f:
        tiles = dict(all_tiles(MmapSource(f)))
    assert len(tiles) == h["addressed_tiles_count"] > 10
    layers = set()
    for data in tiles.values():
        layers.update(vector_tile_layers(gzip.decompress(data)))
    assert {"roads", "buildings", "pois", "places", "water", "landuse"} <= layers
    # the market's centroid and the health centre are points of interest at zoom 15
    summary = check(built_map)
    assert summary.tiles == len(tiles) and summary.max_zoom == 15
    zooms = {tileid_to_zxy(zxy_to_tileid(*k))[0] for k in tiles}
    assert zooms == set(range(10, 16))


def tile_of(lat, lon, z):
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def test_market_and_clinic_are_in_the_tile_that_covers_them(built_map):
    with built_map.open("rb") as f:
        reader = Reader(MmapSource(f))
        data = gzip.decompress(reader.get(*tile_of(14.446, -11.434, 15)))
    assert b"CSCom de Kayes N'Di" in data
    assert b"marketplace" in data or b"Grand march" in data


def test_build_from_the_cli_prints_progress_and_summary(tmp_path):
    from tests.support import require_program

    require_program("tilemaker", "tilemaker")
    from tests.sms.conftest import write_site

    site_file = write_site(tmp_path / "site.toml", map_site(tmp_path))
    osm = write_commune(tmp_path / "commune.osm", buildings=8)
    r = subprocess.run(
        [
            str(Path(sys.executable).parent / "espace"),
            "map",
            "build",
            "--site",
            str(site_file),
            str(osm),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "[1/4] clipping commune.osm" in r.stderr and "[4/4] checking" in r.stderr
    assert "tiles, zoom 10-15" in r.stdout and "kB/km²" in r.stdout
    assert (tmp_path / "data" / "maps" / "area.pmtiles").is_file()
    assert not list((tmp_path / "data" / "maps").glob(".build-*"))


def test_over_budget_keeps_the_old_map(tmp_path, built_map):
    site = _site(tmp_path, budget_mb=1)
    target = map_path(site.data_dir)
    target.parent.mkdir(parents=True)
    shutil.copyfile(built_map, target)
    before = target.read_bytes()
    # a commune with many buildings is bigger than a budget the test makes tiny
    site.map.budget_mb = 0
    with pytest.raises(BuildError, match="over map.budget_mb"):
        build(write_commune(tmp_path / "big.osm"), site)
    assert target.read_bytes() == before
    assert not list(target.parent.glob(".build-*"))


def test_a_bad_extract_is_a_clear_error_and_keeps_the_old_map(tmp_path, built_map):
    site = _site(tmp_path)
    target = map_path(site.data_dir)
    target.parent.mkdir(parents=True)
    shutil.copyfile(built_map, target)
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1' lat='x'/></osm>")
    with pytest.raises(BuildError, match="osmium extract failed"):
        build(bad, site)
    with pytest.raises(BuildError, match="no such file"):
        build(tmp_path / "missing.osm.pbf", site)
    site.map.area = []
    with pytest.raises(BuildError, match="map.area is empty"):
        build(write_commune(tmp_path / "c.osm"), site)
    assert check(target).tiles > 0


def _corruptions(good: bytes) -> dict[str, tuple[bytes, str]]:
    h = deserialize_header(good[:127])
    flipped = bytearray(good)
    root = h["root_offset"]
    flipped[root + 10 : root + 30] = b"\x00" * 20  # inside the gzip of the root directory
    tile = bytearray(good)
    start = h["tile_data_offset"]
    tile[start : start + 12] = b"\x1f\x8bgarbage!!!"
    return {
        "truncated": (good[: len(good) // 2], "truncated"),
        "header only": (good[:127], "truncated"),
        "empty": (b"", "truncated"),
        "not pmtiles": (b"<html>" + b"x" * 200, "not a PMTiles file"),
        "version 2": (good[:7] + b"\x02" + good[8:], "version 2"),
        "root directory": (bytes(flipped), "directory"),
        "tile": (bytes(tile), "not a readable vector tile"),
    }


@pytest.mark.parametrize("case", list(_corruptions(b"PMTiles\x03" + b"\0" * 119)))
def test_corrupt_files_are_refused_by_check_and_install(tmp_path, built_map, case):
    data, message = _corruptions(built_map.read_bytes())[case]
    bad = tmp_path / "bad.pmtiles"
    bad.write_bytes(data)
    with pytest.raises(MapFileError, match=message):
        check(bad)
    site = _site(tmp_path)
    target = map_path(site.data_dir)
    target.parent.mkdir(parents=True)
    shutil.copyfile(built_map, target)
    with pytest.raises(BuildError, match=message):
        install(bad, site)
    assert target.read_bytes() == built_map.read_bytes()
    assert not list(target.parent.glob(".build-*"))


def test_install_puts_a_checked_file_in_service(tmp_path, built_map):
    site = _site(tmp_path)
    s = install(built_map, site)
    assert s.path == str(map_path(site.data_dir)) and s.tiles > 10


def test_sweep_removes_what_a_cut_build_left(tmp_path):
    folder = tmp_path / "maps"
    (folder / ".build-abc").mkdir(parents=True)
    (folder / ".build-abc" / "area.mbtiles").write_bytes(b"x")
    (folder / ".build-x.pmtiles").write_bytes(b"x")
    (folder / "area.pmtiles").write_bytes(b"kept")
    # a build still running (its folder's lock held) is left alone
    import fcntl

    (folder / ".build-live").mkdir()
    fd = os.open(folder / ".build-live" / ".lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert sweep(tmp_path) == 2
    finally:
        os.close(fd)
    assert sorted(p.name for p in folder.iterdir()) == [".build-live", "area.pmtiles"]
    assert sweep(tmp_path) == 1


# --- served by ranges ---------------------------------------------------------------


class _Client:
    """The test client, each response read whole and closed (the file it streams)."""

    def __init__(self, client) -> None:
        self.c = client

    def get(self, path, **kw):
        r = self.c.get(path, **kw)
        r.get_data()
        r.close()
        return r

    def head(self, path, **kw):
        r = self.c.head(path, **kw)
        r.close()
        return r


def test_tiles_are_served_by_range_and_read_back_through_http(box_with_map, built_map):
    app, _ = box_with_map
    client = _Client(app.test_client())
    size = built_map.stat().st_size
    r = client.get("/map/area.pmtiles", headers={"Range": "bytes=0-126"})
    assert r.status_code == 206 and len(r.data) == 127
    assert r.headers["Content-Range"] == f"bytes 0-126/{size}"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert "Content-Encoding" not in r.headers
    etag = r.headers["ETag"]

    # a reader whose every read is one HTTP range request finds a tile
    requests = []

    def get_bytes(offset, length):
        requests.append((offset, length))
        resp = client.get(
            "/map/area.pmtiles", headers={"Range": f"bytes={offset}-{offset + length - 1}"}
        )
        assert resp.status_code == 206
        return resp.data

    reader = Reader(get_bytes)
    assert reader.header()["version"] == 3
    z, x, y = tile_of(14.446, -11.434, 15)
    with built_map.open("rb") as f:
        local = Reader(MmapSource(f)).get(z, x, y)
    assert reader.get(z, x, y) == local
    assert len(requests) >= 3

    assert client.get("/map/area.pmtiles", headers={"Range": f"bytes={size}-"}).status_code == 416
    assert client.get("/map/area.pmtiles", headers={"If-None-Match": etag}).status_code == 304
    whole = client.get("/map/area.pmtiles")
    assert whole.status_code == 200 and whole.data == built_map.read_bytes()
    head = client.head("/map/area.pmtiles", headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.headers["Content-Length"] == "10"


def test_a_corrupted_served_file_is_refused_not_served(box_with_map):
    app, doc = box_with_map
    client = _Client(app.test_client())
    assert client.get("/map/area.pmtiles", headers={"Range": "bytes=0-9"}).status_code == 206
    target = Path(doc["storage"]["data_dir"]) / "maps" / "area.pmtiles"
    data = target.read_bytes()
    # someone copies a half file over it by hand (not through install)
    with target.open("r+b") as f:
        f.truncate(len(data) // 3)
        os.fsync(f.fileno())
    r = client.get("/map/area.pmtiles", headers={"Range": "bytes=0-9"})
    assert r.status_code == 503 and b"PMTiles" not in r.data
    target.unlink()
    assert client.get("/map/area.pmtiles").status_code == 404


def test_kill_9_during_a_build_keeps_the_old_map_and_the_sweep_cleans_up(tmp_path, built_map):
    """Power cut mid-build: the process group is killed once tilemaker is at work (seen
    on the progress line, no sleep); the map in service is the old one, whole, and the
    next start's sweep removes the cut build's folder."""
    import signal

    from tests.sms.conftest import write_site

    doc = map_site(tmp_path)
    site_file = write_site(tmp_path / "site.toml", doc)
    target = tmp_path / "data" / "maps" / "area.pmtiles"
    target.parent.mkdir(parents=True)
    shutil.copyfile(built_map, target)
    before = target.read_bytes()
    osm = write_commune(tmp_path / "big.osm", buildings=3000)
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "espace"),
            "map",
            "build",
            "--site",
            str(site_file),
            str(osm),
        ],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for line in proc.stderr:
            if line.startswith("[2/4]"):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == before and check(target).tiles > 0
    assert list(target.parent.glob(".build-*"))  # what the cut left
    from espace import create_app

    create_app({"SITE": doc, "TESTING": True})  # start-up sweeps
    assert not list(target.parent.glob(".build-*"))
