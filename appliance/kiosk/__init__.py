"""The facilitator's touchscreen at /kiosk (800x480, chromium in kiosk mode).

Modules of the kiosk register their views on :data:`bp` and their tab with
:func:`nav_item`; every view but the login is wrapped in
:func:`appliance.kiosk.auth.facilitator_required`.
"""

from flask import Blueprint, abort, request

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder="templates")


@bp.before_request
def _only_on_the_screen() -> None:
    # The kiosk has its own loopback listener (appliance.server): on the hotspot's, its
    # login and pages do not exist, so no phone can try a PIN or lock the screen out.
    from ..server import HOTSPOT, LISTENER_KEY

    if request.environ.get(LISTENER_KEY) == HOTSPOT:
        abort(404)

# (label, endpoint, icon id) of the kiosk's tabs, in order; label is a lazy string.
NAV: list[tuple[object, str, str]] = []


def nav_item(label: object, endpoint: str, icon: str = "") -> None:
    if all(e != endpoint for _l, e, _i in NAV):
        NAV.append((label, endpoint, icon))


@bp.context_processor
def _kiosk_context() -> dict:
    from .auth import current_facilitator

    return {"kiosk_nav": NAV, "facilitator": current_facilitator()}


# The kiosk's own pages (they register the Today, Week, New session and Health tabs).
from . import (  # noqa: E402, F401
    moderation,  # noqa: E402, F401  (the Board tab: queue, answers)
    sessions,
    views,
)
