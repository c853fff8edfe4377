"""Map benchmark: what building the area's tiles costs, and what the first map view
costs a phone.

    .venv/bin/python bench/map.py [--buildings 40] [--max-zoom 15] [--no-browser]

1. Build: the test commune (tests/maps/osm_sample.py: roads, a river, a market, points
   of interest and ``--buildings`` buildings, 6 x 5.5 km) through the real pipeline
   (osmium, tilemaker, the pmtiles converter, the check): seconds, file size, tiles,
   and size per km² (what a commune of 300 km² would take at the same density).
2. First view (skipped with --no-browser or without chromium): the box's app behind
   waitress on loopback, Debian's chromium at 360x640 opens /map/ and waits for the
   first tiles; counts every request and its bytes, the Range requests apart.

What we compare against: map.budget_mb (60 MB by default) for a commune, and the
landing page's 2.6 kB (a map view is the heaviest page a visitor opens; on a shared
uplink it matters only if the page were fetched from the internet, which it never is).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_figures(root: Path, buildings: int, max_zoom: int):
    from appliance import settings
    from maps.build import build
    from tests.maps.conftest import map_site
    from tests.maps.osm_sample import write_commune

    site = settings.validate(map_site(root, max_zoom=max_zoom, budget_mb=500),
                             str(root / "site.toml"))
    osm = write_commune(root / "commune.osm", buildings=buildings)
    r = build(osm, site)
    s = r.summary
    print(f"build: {r.seconds:.2f} s for {r.km2:.1f} km² ({osm.stat().st_size / 1e3:.0f} kB "
          f"of OSM XML, {buildings} buildings); {s.size / 1e3:.1f} kB, {s.tiles} tiles, "
          f"zoom {s.min_zoom}-{s.max_zoom}; {s.size / r.km2 / 1e3:.2f} kB/km² "
          f"(300 km² at this density: {s.size / r.km2 * 300 / 1e6:.2f} MB)")
    return site, Path(s.path)


def first_view(root: Path, built: Path) -> None:
    from playwright.sync_api import sync_playwright

    from espace import create_app
    from tests.maps.conftest import map_site
    from tests.support import CHROMIUM_ARGS, LiveServer

    doc = map_site(root / "box")
    app = create_app({"SITE": doc, "SECRET_KEY": "bench"})
    target = Path(doc["storage"]["data_dir"]) / "maps" / "area.pmtiles"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built, target)
    chromium = shutil.which("chromium")
    if not chromium:
        print("first view: skipped (no chromium)")
        return
    rows: list[tuple[str, int, str]] = []
    with LiveServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 360, "height": 640}, has_touch=True,
                                  is_mobile=True)
        page = ctx.new_page()

        def on_finished(req):
            sizes = req.sizes()
            rows.append((req.url, sizes["responseBodySize"] + sizes["responseHeadersSize"],
                         req.headers.get("range", "")))

        page.on("requestfinished", on_finished)
        started = time.monotonic()
        page.goto(server.url + "/map/")
        page.wait_for_function("window.espaceMap && document.querySelectorAll("
                               "'.leaflet-tile-loaded').length > 0", timeout=60_000)
        elapsed = time.monotonic() - started
        browser.close()
    total = sum(n for _, n, _ in rows)
    ranged = [(u, n, r) for u, n, r in rows if r]
    print(f"first view at 360x640: {len(rows)} requests, {total / 1e3:.1f} kB on the wire "
          f"(gzip where the browser asked); {len(ranged)} Range requests for "
          f"{sum(n for _, n, _ in ranged) / 1e3:.1f} kB of tiles; {elapsed:.2f} s on loopback")
    for url, n, rng in rows:
        print(f"  {n:8d} B  {url.split('/', 3)[-1]}  {rng}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buildings", type=int, default=40)
    ap.add_argument("--max-zoom", type=int, default=15)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp:
        root = Path(tmp)
        _site, built = build_figures(root, args.buildings, args.max_zoom)
        if not args.no_browser:
            first_view(root, built)


if __name__ == "__main__":
    main()
