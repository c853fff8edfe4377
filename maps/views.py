"""The map's visitor pages: the offline tiles, the map, the directory."""

from __future__ import annotations

from flask import Blueprint

from . import tiles_view

bp = Blueprint(
    "maps",
    __name__,
    url_prefix="/map",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.route("/area.pmtiles", methods=["GET", "HEAD"])
def tiles():
    return tiles_view.serve_tiles()
