"""Portal acceptance, connectivity probes and the captive portal API (RFC 8908).

Every request passes through :func:`_intercept` first, before the normal routes:

- a connectivity probe (Host + path in ``probes.toml``, e.g.
  ``connectivitycheck.gstatic.com/generate_204``) gets a redirect to the welcome page
  until the phone is accepted, then the OS's exact success answer;
- any other request from a hotspot phone for a foreign name (``http://example.org``,
  which dnsmasq or nftables brought here) is redirected to the box's own address,
  so that cookies and links stay on one host.

The welcome page offers the languages and an Enter button. Enter is a plain form
POST answered by a 303 to the home page: a full page navigation, which is when
Apple's sign-in sheet checks again and turns its button to Done. Works without
JavaScript.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import threading
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    json,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal

from appliance import i18n
from appliance.privacy import mac_for_ip
from provisioning import allowlist as al
from provisioning.render import API_PATH, PORTAL_NAME
from secure_origin import web as secure_web

from . import probes, visits
from .portal import ONE_YEAR

bp = Blueprint("accept", __name__, template_folder="templates")
log = logging.getLogger("espace.portal")
_lock = threading.Lock()
CAPTIVE_JSON = "application/captive+json"


def get_allowlist(app: Flask | None = None) -> al.Allowlist:
    """The app's allow-list, made on first use from ``ALLOWLIST`` or the environment's
    ``ESPACE_ALLOWLIST`` (``auto``, ``memory``, ``nft``, ``socket:PATH``; in tests also
    a backend object)."""
    app = app or current_app
    with _lock:
        found = app.extensions.get("espace_allowlist")
        if found is None:
            spec = app.config.get("ALLOWLIST") or os.environ.get("ESPACE_ALLOWLIST", "auto")
            backend = spec if not isinstance(spec, str) else al.backend_for(
                app.config["SITE"], spec)
            found = al.Allowlist(backend, refresh=app.config.get("ALLOWLIST_REFRESH", 30.0))
            app.extensions["espace_allowlist"] = found
        return found


def client() -> tuple[str | None, str]:
    """(MAC or None, IP) of the phone making this request."""
    if "espace_client" not in g:
        ip = request.remote_addr or ""
        g.espace_client = (mac_for_ip(ip, current_app.config.get("PROC_ROOT", "/proc")), ip)
    return g.espace_client


def on_hotspot(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(
            current_app.config["SITE"].hotspot.subnet)
    except ValueError:
        return False


def remaining() -> int:
    mac, ip = client()
    return get_allowlist().remaining(mac, ip)


def sharing() -> bool:
    """Whether accepted phones get the internet (shared uplink with a quota)."""
    up = current_app.config["SITE"].uplink
    return bool(up.interface) and up.client_daily_mb > 0


def spent_quota() -> al.Quota | None:
    """This phone's quota when it is spent (or the day's total is), else None; from
    the kernel's counters now (a captive API request, the quota page)."""
    if not sharing():
        return None
    mac, ip = client()
    quota = get_allowlist().quota(mac, ip, max_age=0)
    return quota if quota is not None and quota.spent else None


def sent_here_by_quota() -> bool:
    """With a shared uplink, an accepted phone's request for another site (or its
    OS's probe) reaches the box only when nftables sent it here: its quota, or the
    day's total, is spent (``templates/nftables.nft.j2``, chain prerouting)."""
    return sharing() and remaining() > 0


def own_host(host: str) -> bool:
    """Whether ``host`` names this box (its address, its names, loopback)."""
    host = probes.normalise_host(host)
    site = current_app.config["SITE"]
    if host in (site.hotspot.address, PORTAL_NAME, "localhost", "") or host.endswith(".local"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: the box's own under the region's domain (two stats)
        return host == secure_web.own_name()


def portal_base() -> str:
    return f"http://{current_app.config['SITE'].hotspot.address}"


@bp.before_app_request
def _intercept() -> Response | None:
    host = request.host
    probe = probes.find(host, request.path)
    if probe is not None:
        accepted = remaining() > 0
        if accepted and sent_here_by_quota():
            # The truth: no internet now. The OS shows its sign-in sheet: our page.
            return probes.answer(probe, False, portal_base() + url_for("accept.quota"))
        return probes.answer(probe, accepted, portal_base() + url_for("accept.welcome"))
    if own_host(host):
        return None
    mac, ip = client()
    if not on_hotspot(ip):
        return None  # a technician on the LAN reaching the box by another name
    target = "portal.home" if remaining() > 0 else "accept.welcome"
    if target == "portal.home" and sent_here_by_quota():
        target = "accept.quota"
    response = redirect(portal_base() + url_for(target), code=302)
    response.headers.update(probes.NO_STORE)
    return response


@bp.get("/welcome")
def welcome():
    if remaining() > 0:
        return redirect(url_for("portal.home"), code=303)
    response = current_app.make_response(render_template("accept/welcome.html"))
    response.headers.update(probes.NO_STORE)
    return response


@bp.post("/welcome")
def enter():
    """Enter: accept this phone for ``hotspot.accept_hours``, then the home page."""
    site = current_app.config["SITE"]
    mac, ip = client()
    try:
        if on_hotspot(ip):  # the kiosk or a laptop on the LAN has nothing to accept
            get_allowlist().accept(mac, ip, site.hotspot.accept_hours * 3600)
            visits.record(ip, current_app.config.get("PROC_ROOT", "/proc"))
    except al.AllowlistError as e:
        log.error("could not accept %s: %s", "a phone" if mac else ip, e)
        return render_template("accept/welcome.html", failed=True), 503
    # On to the secure address when the box holds a valid certificate (the recorder,
    # location and offline apps work there); plain HTTP otherwise.
    # The language cookie belongs to this origin: /lang/ sets it on the secure one.
    secure = secure_web.secure_url(url_for("portal.set_language", code=g.lang, next="/"))
    response = redirect(secure or url_for("portal.home"), code=303)
    response.headers.update(probes.NO_STORE)
    if i18n.COOKIE not in request.cookies:
        # The welcome page offered the languages: keep the one it was shown in, so
        # that the home page does not ask again.
        response.set_cookie(i18n.COOKIE, g.lang, max_age=ONE_YEAR, samesite="Lax",
                            httponly=True)
    return response


@bp.get("/quota")
def quota():
    """What a phone whose internet quota is spent sees: why, and when it comes back.
    The box's own pages keep working."""
    mac, ip = client()
    found = get_allowlist().quota(mac, ip, max_age=0) if sharing() else None
    resets = dt.datetime.fromtimestamp(found.resets_at if found else 0, dt.UTC).astimezone(
        ZoneInfo(current_app.config["SITE"].site.timezone))
    response = current_app.make_response(render_template(
        "accept/quota.html", quota=found, resets=resets, mb=_mb))
    response.headers.update(probes.NO_STORE)
    return response


def _mb(n: int) -> str:
    """Megabytes in the visitor's language's way of writing numbers (1,5 in French)."""
    return format_decimal(n / 2**20, format="#,##0" if n >= 10 * 2**20 else "#,##0.0")


@bp.get(API_PATH)
def captive_api():
    """RFC 8908: whether this client is captive, and where the portal is. A phone
    whose quota is spent is captive again, sent to the page that says so."""
    left = remaining()
    spent = spent_quota() if left else None
    page = "accept.quota" if spent else "accept.welcome"
    body = {"captive": left == 0 or spent is not None,
            "user-portal-url": portal_base() + url_for(page),
            "venue-info-url": portal_base() + url_for("portal.about")}
    if left and not spent:
        body["seconds-remaining"] = left
        body["can-extend-session"] = True
        mac, ip = client()
        quota = get_allowlist().quota(mac, ip) if sharing() else None
        if quota is not None:
            body["bytes-remaining"] = quota.left
    return Response(json.dumps(body), content_type=CAPTIVE_JSON,
                    headers={"Cache-Control": "private, no-store"})
