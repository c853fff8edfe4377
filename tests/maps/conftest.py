"""A box whose site file has a map area, and its tiles built once per session from the
small commune tests/maps/osm_sample.py writes (osmium-tool and tilemaker, real)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appliance import settings

# central's fixtures (SQLite and a real PostgreSQL) for the region's directory tests
from tests.central.conftest import call, capp, cclient, database_url, pg_base  # noqa: F401
from tests.support import make_site, require_program

from .osm_sample import AREA, VILLAGES, write_commune

MAP = {
    "area": AREA,
    "villages": VILLAGES,
    "box_location": [14.445, -11.43],
    "max_zoom": 15,
    "budget_mb": 5,
}


def map_site(tmp_path: Path, **map_values) -> dict:
    return make_site(tmp_path, map={**MAP, **map_values})


@pytest.fixture(scope="session")
def built_map(tmp_path_factory) -> Path:
    """One PMTiles file of the test commune, built by the real pipeline."""
    require_program("osmium", "osmium-tool")
    require_program("tilemaker", "tilemaker")
    from maps.build import build, map_path

    root = tmp_path_factory.mktemp("built-map")
    site = settings.validate(map_site(root), str(root / "site.toml"))
    build(write_commune(root / "commune.osm"), site)
    return map_path(site.data_dir)


@pytest.fixture
def box_with_map(tmp_path, built_map):
    """(app, site document) of a box serving the built map."""
    from espace import create_app

    doc = map_site(tmp_path)
    app = create_app({"SITE": doc, "TESTING": True})
    target = Path(doc["storage"]["data_dir"]) / "maps" / "area.pmtiles"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built_map, target)
    return app, doc
