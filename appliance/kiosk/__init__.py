"""The facilitator's touchscreen at /kiosk (800x480, chromium in kiosk mode).

Modules of the kiosk register their views on :data:`bp`; every view but the login is
wrapped in :func:`appliance.kiosk.auth.facilitator_required`. The tabs, this package's
and other packages' (the library's, SMS...), are contributed to the one registry
(:mod:`espace.registry`) by each package's ``contribute``; the kiosk's own are declared
by :func:`appliance.contribute`, which must not import this package (its Flask
blueprint): ``espace sync now`` builds the same registry.
"""

from flask import Blueprint, abort, current_app, request

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates")

# The app extension holding the registry the app was made from (espace.app.EXTENSION;
# the key is repeated, not imported: the core never imports the composition root).
REGISTRY = "espace.registry"


@bp.before_app_request
def _only_on_the_screen() -> None:
    # The kiosk has its own loopback listener (appliance.server): on the hotspot's, its
    # login and pages do not exist, so no phone can try a PIN or lock the screen out.
    # By path, for every app-wide request: other packages' kiosk tabs (the library's,
    # the internet's) are blueprints of their own under /kiosk/.
    from ..server import HOTSPOT, LISTENER_KEY

    path = request.path
    if request.environ.get(LISTENER_KEY) == HOTSPOT and (path == "/kiosk"
                                                         or path.startswith("/kiosk/")):
        abort(404)


def blueprint() -> Blueprint:
    """The kiosk's blueprint with the routes of every kiosk module (imported by the app
    only: ``espace sync now`` needs none of them)."""
    from . import moderation, sessions, views  # noqa: F401  (their routes join bp)

    return bp


def nav() -> list[tuple[object, str, str]]:
    """(label, endpoint, icon) of every contributed kiosk tab, in order."""
    registry = current_app.extensions.get(REGISTRY)
    tabs = registry.kiosk_tabs if registry is not None else []
    return [(t.label, t.endpoint, t.icon) for t in tabs]


def kiosk_context() -> dict:
    """What every kiosk template needs (the tabs, who is logged in); blueprints of
    other packages' tabs use it as their context processor too."""
    from .auth import current_facilitator

    return {"kiosk_nav": nav(), "facilitator": current_facilitator()}


bp.context_processor(kiosk_context)
