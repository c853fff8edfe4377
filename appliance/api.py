"""Small JSON endpoints of the box."""

from flask import Blueprint, current_app

from . import __version__, health

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
def health_view():
    site = current_app.config["SITE"]
    body = health.snapshot(site.data_dir, site.content_dir)
    body.update(version=__version__, site_id=site.site.id)
    return body
