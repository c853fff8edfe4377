"""The Internet tab of the facilitator's kiosk: today's use of the shared uplink by
all phones, and each accepted phone's quota use by box-scoped hash (never its MAC)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import format_decimal

from appliance import privacy
from appliance.kiosk import _only_on_the_screen, kiosk_context
from appliance.kiosk.auth import facilitator_required

from .status import usage_by_hash

bp = Blueprint("kiosk_internet", __name__, url_prefix="/kiosk/internet",
               template_folder="templates")
bp.context_processor(kiosk_context)
# Like every kiosk page: not on the hotspot's listener (phones get a 404).
bp.before_request(_only_on_the_screen)


@bp.get("/")
@facilitator_required
def index():
    from captive_portal.accept import get_allowlist

    site = current_app.config["SITE"]
    sharing = bool(site.uplink.interface) and site.uplink.client_daily_mb > 0
    usage = None
    if sharing:
        usage = usage_by_hash(get_allowlist().usage(max_age=5.0),
                              lambda who: privacy.identity_hash(who, "box"))
        usage["phones"] = dict(sorted(usage["phones"].items(), key=lambda i: -i[1]["used"]))
    return render_template("network/kiosk.html", usage=usage, site=site,
                           mb=lambda n: format_decimal(n / 2**20, format="#,##0.0"))
