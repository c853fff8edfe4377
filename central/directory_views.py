"""The region's directory on central's dashboard: a list and its two exports."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from . import auth, directory

bp = Blueprint("directory", __name__, url_prefix="/directory", template_folder="templates")


def _rows():
    return directory.places([s.id for s in auth.visible_sites()])


@bp.get("/")
@auth.login_required
def index():
    return render_template("central/directory.html", rows=_rows(), tags=directory.OSM_TAGS)


@bp.get("/directory.csv")
@auth.login_required
def export_csv():
    from .admin import csv_cell

    return Response(directory.to_csv(_rows(), csv_cell), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=directory.csv"})


@bp.get("/directory.osm")
@auth.login_required
def export_osm():
    return Response(directory.to_osm(_rows()), content_type="application/xml; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=directory.osm"})
