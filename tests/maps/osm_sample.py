"""A small commune in OpenStreetMap XML, written by the tests: roads, buildings, a
market, points of interest and two villages, inside AREA (around Kayes)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

# min_lon, min_lat, max_lon, max_lat
AREA = [-11.46, 14.42, -11.40, 14.47]
VILLAGES = [
    {"name": "Kayes N'Di", "lat": 14.455, "lon": -11.43},
    {"name": "Lafiabougou", "lat": 14.430, "lon": -11.445},
]


class _Osm:
    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.next_id = 1

    def _tags(self, tags: dict) -> str:
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())

    def node(self, lat: float, lon: float, tags: dict | None = None) -> int:
        nid = self.next_id
        self.next_id += 1
        body = self._tags(tags or {})
        self.nodes.append(
            f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>'
        )
        return nid

    def way(self, points: list[tuple[float, float]], tags: dict, closed: bool = False) -> int:
        ids = [self.node(lat, lon) for lat, lon in points]
        if closed:
            ids.append(ids[0])
        wid = self.next_id
        self.next_id += 1
        refs = "".join(f'<nd ref="{i}"/>' for i in ids)
        self.ways.append(f'<way id="{wid}" version="1">{refs}{self._tags(tags)}</way>')
        return wid

    def xml(self) -> str:
        return (
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            '<osm version="0.6" generator="espace tests">\n'
            + "\n".join(self.nodes + self.ways)
            + "\n</osm>\n"
        )


def square(lat: float, lon: float, half: float) -> list[tuple[float, float]]:
    return [
        (lat - half, lon - half),
        (lat - half, lon + half),
        (lat + half, lon + half),
        (lat + half, lon - half),
    ]


def commune_xml(buildings: int = 40) -> str:
    o = _Osm()
    for v in VILLAGES:
        o.node(v["lat"], v["lon"], {"place": "village", "name": v["name"]})
    o.way(
        [(14.425, -11.455), (14.445, -11.43), (14.465, -11.405)],
        {"highway": "primary", "name": "Route de Bamako"},
    )
    o.way([(14.43, -11.445), (14.455, -11.43)], {"highway": "residential"})
    o.way([(14.44, -11.46), (14.44, -11.40)], {"highway": "track"})
    o.way([(14.421, -11.459), (14.469, -11.401)], {"waterway": "river", "name": "Sénégal"})
    o.way(
        square(14.444, -11.432, 0.0015),
        {"amenity": "marketplace", "name": "Grand marché"},
        closed=True,
    )
    for i in range(buildings):
        lat = 14.432 + (i // 8) * 0.003
        lon = -11.448 + (i % 8) * 0.003
        o.way(square(lat, lon, 0.0003), {"building": "yes"}, closed=True)
    o.node(14.446, -11.434, {"amenity": "clinic", "name": "CSCom de Kayes N'Di"})
    o.node(14.437, -11.441, {"amenity": "school", "name": "École de Lafiabougou"})
    o.node(14.450, -11.428, {"amenity": "townhall", "name": "Mairie"})
    o.node(14.452, -11.438, {"amenity": "drinking_water"})
    return o.xml()


def write_commune(path: Path, **kw) -> Path:
    path.write_text(commune_xml(**kw), encoding="utf-8")
    return path
