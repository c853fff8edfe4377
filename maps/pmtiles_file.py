"""Checking a PMTiles v3 file before the box serves it: the header, every directory
(root and leaves) read back within the file, and tiles decompressed and parsed as
Mapbox Vector Tiles. A truncated copy, a torn write or another file under the name
is refused with a :class:`MapFileError` naming what is wrong.

The header and directories are read with the ``pmtiles`` library (the converter's own
reader); only the check that a tile is a vector tile is ours: walking the protobuf's
top level for its layer names takes a few lines, where a full MVT decoder would bring
protobuf and shapely onto the box.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import EspaceError

HEADER_BYTES = 127
#: tiles decoded in full at most (spread over the file); every tile's bounds are checked
SAMPLE_TILES = 200


class MapFileError(EspaceError):
    """A PMTiles file the box will not serve."""


@dataclass
class MapSummary:
    path: str
    size: int
    tiles: int
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat
    center: tuple[float, float, int]  # lon, lat, zoom
    layers: list[str] = field(default_factory=list)


def _refuse(path: str | Path, what: str) -> MapFileError:
    return MapFileError(
        f"{path}: {what}",
        "build it again with `espace map build`, or copy the area's "
        ".pmtiles file again (the old map stays in service meanwhile)",
    )


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("varint runs past the end")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message's top level."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("a field runs past the end")
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        else:
            raise ValueError(f"wire type {wire} is not in a vector tile")
        if number == 0:
            raise ValueError("field number 0")
        yield number, wire, value


def vector_tile_layers(data: bytes) -> list[str]:
    """Names of the layers of a (decompressed) Mapbox Vector Tile; ValueError if it is
    not one (layers are field 3, each layer's name its field 1, version field 15)."""
    names = []
    for number, wire, value in _fields(data):
        if number != 3 or wire != 2:
            raise ValueError(f"top-level field {number} is not a layer")
        name = next(
            (bytes(v).decode("utf-8") for n, w, v in _fields(value) if n == 1 and w == 2), None
        )
        if not name:
            raise ValueError("a layer has no name")
        names.append(name)
    return names


def _decompress(data: bytes, compression) -> bytes:
    compression = getattr(compression, "value", compression)  # pmtiles' Compression enum
    if compression in (0, 1):  # unknown, none
        return data
    if compression == 2:
        return gzip.decompress(data)
    raise ValueError(f"tile compression {compression} is not supported on the box (gzip only)")


def check(path: str | Path) -> MapSummary:
    """Read ``path`` back as PMTiles v3 with vector tiles; raise MapFileError if it is
    not a whole, readable one."""
    from pmtiles.tile import (
        Compression,
        TileType,
        deserialize_directory,
        deserialize_header,
        tileid_to_zxy,
    )

    path = Path(path)
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except OSError as e:
        raise _refuse(path, f"cannot read it: {e.strerror}") from None
    with f:

        def read(offset: int, length: int, what: str) -> bytes:
            if offset < 0 or length < 0 or offset + length > size:
                raise _refuse(
                    path,
                    f"{what} (bytes {offset}-{offset + length}) lies past the "
                    f"end of the file ({size} bytes): the file is truncated",
                )
            f.seek(offset)
            return f.read(length)

        head = read(0, HEADER_BYTES, "the header")
        if head[:7] != b"PMTiles":
            raise _refuse(path, "not a PMTiles file (no 'PMTiles' magic at its start)")
        if head[7] != 3:
            raise _refuse(path, f"PMTiles version {head[7]}; the box reads version 3 only")
        try:
            h = deserialize_header(head)
        except ValueError as e:  # an unknown compression or tile type byte
            raise _refuse(path, f"the header is corrupt ({e})") from None
        if h["tile_type"] != TileType.MVT:
            raise _refuse(path, f"its tiles are {h['tile_type'].name}, not vector tiles (MVT)")
        if h["internal_compression"] not in (Compression.GZIP,):
            raise _refuse(path, "its directories are not gzip-compressed")
        read(h["metadata_offset"], h["metadata_length"], "the metadata")
        tile_end = h["tile_data_offset"] + h["tile_data_length"]
        read(h["tile_data_offset"], 0, "the tile data")
        if tile_end > size:
            raise _refuse(
                path,
                f"its tile data ends at byte {tile_end}, past the end of the "
                f"file ({size} bytes): the file is truncated",
            )

        entries = []

        def walk(offset: int, length: int, depth: int) -> None:
            if depth > 4:
                raise _refuse(path, "its directories nest deeper than PMTiles allows")
            raw = read(offset, length, "a directory")
            try:
                directory = deserialize_directory(raw)
            except (OSError, EOFError, zlib.error, IndexError, ValueError) as e:
                raise _refuse(path, f"a directory at byte {offset} is corrupt ({e})") from None
            for e in directory:
                if e.run_length == 0:
                    walk(h["leaf_directory_offset"] + e.offset, e.length, depth + 1)
                else:
                    if e.offset + e.length > h["tile_data_length"]:
                        raise _refuse(path, f"tile {e.tile_id} points past the tile data")
                    entries.append(e)

        walk(h["root_offset"], h["root_length"], 0)
        if not entries:
            raise _refuse(path, "it holds no tiles")
        addressed = sum(e.run_length for e in entries)
        if h["addressed_tiles_count"] and addressed != h["addressed_tiles_count"]:
            raise _refuse(
                path,
                f"its directories address {addressed} tiles, its header says "
                f"{h['addressed_tiles_count']}",
            )
        step = max(1, len(entries) // SAMPLE_TILES)
        layers: set[str] = set()
        for e in entries[::step] + [entries[-1]]:
            data = read(h["tile_data_offset"] + e.offset, e.length, f"tile {e.tile_id}")
            try:
                layers.update(vector_tile_layers(_decompress(data, h["tile_compression"])))
            except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as err:
                z, x, y = tileid_to_zxy(e.tile_id)
                raise _refuse(
                    path, f"tile {z}/{x}/{y} is not a readable vector tile ({err})"
                ) from None
    return MapSummary(
        path=str(path),
        size=size,
        tiles=addressed,
        min_zoom=h["min_zoom"],
        max_zoom=h["max_zoom"],
        bounds=(
            h["min_lon_e7"] / 1e7,
            h["min_lat_e7"] / 1e7,
            h["max_lon_e7"] / 1e7,
            h["max_lat_e7"] / 1e7,
        ),
        center=(h["center_lon_e7"] / 1e7, h["center_lat_e7"] / 1e7, h["center_zoom"]),
        layers=sorted(layers),
    )


class Checked:
    """The served file's check, remembered while its size and mtime stay the same (a
    new build is a rename: a new inode, a new stat)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._result: MapSummary | MapFileError | None = None

    def get(self, path: Path) -> MapSummary:
        try:
            st = path.stat()
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            raise MapFileError(
                f"{path}: no map on this box yet",
                "build one with `espace map build EXTRACT.osm.pbf`",
            ) from None
        if key != self._key:
            try:
                self._result = check(path)
            except MapFileError as e:
                self._result = e
            self._key = key
        if isinstance(self._result, MapFileError):
            raise self._result
        return self._result
