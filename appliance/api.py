"""Small JSON endpoints of the box."""

import ipaddress

from flask import Blueprint, abort, current_app, request

from . import __version__, health

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
def health_view():
    # Disk, versions and sync state are for the facilitator's screen and technicians
    # on SSH (loopback), not for phones on the hotspot.
    from .server import HOTSPOT, LISTENER_KEY

    if request.environ.get(LISTENER_KEY) == HOTSPOT and not _loopback(request.remote_addr):
        abort(404)
    site = current_app.config["SITE"]
    body = health.snapshot(site.data_dir, site.content_dir)
    body.update(version=__version__, site_id=site.site.id)
    return body


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False
