"""The kiosk's SMS tab: the modem (signal, SIM, network), the queue, today's budget,
messages that could not be sent, and the latest posts that came by SMS."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from appliance.board.models import Post
from appliance.kiosk.auth import facilitator_required

from . import gammu, outgoing
from .models import Contact, Inbound, Outgoing

bp = Blueprint("sms_kiosk", __name__, url_prefix="/kiosk/sms", template_folder="templates")


@bp.context_processor
def _kiosk_context() -> dict:
    """The kiosk's tabs and facilitator, as the kiosk's own pages have them."""
    from appliance import kiosk

    shared = getattr(kiosk, "kiosk_context", None)
    if shared is not None:
        return shared()
    from appliance.kiosk.auth import current_facilitator

    return {"kiosk_nav": kiosk.NAV, "facilitator": current_facilitator()}


def status(site) -> dict:
    """What the tab and ``espace sms status`` show (no phone number in it)."""
    spool = gammu.Spool.for_site(site)
    modem = gammu.monitor(spool) if site.sms.enabled else {}
    return {
        "enabled": site.sms.enabled,
        "modem": modem,
        "signal": modem.get("NetworkSignal"),
        "sim": bool(modem.get("IMSI")),
        "queued": outgoing.queued_count(),
        "at_modem": Outgoing.select().where(Outgoing.status == "handed").count(),
        "failed": Outgoing.select().where(Outgoing.status == "failed").count(),
        "spent_today": outgoing.spent_today(site),
        "budget": site.sms.daily_budget_parts,
        "contacts": Contact.select().count(),
        "waiting_to_handle": Inbound.select().where(Inbound.status == "new").count(),
        "posts": Post.select().where(Post.channel == "sms").count(),
    }


@bp.get("/")
@facilitator_required
def index():
    site = current_app.config["SITE"]
    latest = list(Post.select().where(Post.channel == "sms").order_by(Post.id.desc()).limit(10))
    return render_template("sms/kiosk.html", s=status(site), posts=latest)
