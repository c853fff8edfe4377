"""The secure origin in the portal: where Enter leads, HSTS, and what pages may tell
visitors about it.

- :func:`secure_url` is ``https://<name>/...`` while the box holds a valid certificate
  (and ``secure_origin.https`` is true), else ``None``: every caller then stays on
  plain HTTP, which always works.
- HSTS is sent only on responses that came over HTTPS while the certificate is valid,
  and only for as long as it stays valid (at most a week): a box that goes offline
  past its certificate's expiry must not leave phones that refuse to reach it.
- ``/s/secure-origin.js`` tells a page whether it runs in a secure context; see
  docs/secure-origin.md.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time

from flask import Blueprint, Flask, current_app, has_request_context, request

from . import clients, store

bp = Blueprint(
    "secure_origin", __name__, static_folder="static", static_url_path="/s/secure-origin"
)
HSTS_MAX_S = 7 * 24 * 3600
LISTENER_CHECK_S = 30.0
_listener_lock = threading.Lock()


def init_app(app: Flask) -> None:
    # dnsmasq watches this directory for the box's name; it must exist when dnsmasq
    # starts (the next boot after this one, at the latest).
    store.hosts_dir(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    app.extensions["secure_origin"] = store.StatusCache(app.config["DATA_DIR"])
    app.register_blueprint(bp)
    app.after_request(_hsts)
    app.context_processor(lambda: {"secure_url": secure_url, "own_secure_name": own_name})


def status() -> store.Status:
    return current_app.extensions["secure_origin"].get()


def own_name() -> str:
    """The box's name under the region's domain ("" before central gave one)."""
    cache = current_app.extensions.get("secure_origin")
    return cache.get().name if cache is not None else ""


def secure_url(path: str = "/") -> str | None:
    site = current_app.config["SITE"]
    if not site.secure_origin.https or "secure_origin" not in current_app.extensions:
        return None
    held = status()
    if not held.valid:
        return None
    if has_request_context() and not clients.trusts_public_roots(request.user_agent.string):
        return None  # an old phone without Let's Encrypt's root: plain HTTP works for it
    port = site.secure_origin.port
    if not listener_up(site.hotspot.address, port):
        return None
    return f"https://{held.name}{'' if port == 443 else f':{port}'}{path}"


def listener_up(address: str, port: int) -> bool:
    """Whether the TLS listener accepts connections (checked at most every
    :data:`LISTENER_CHECK_S` seconds): a valid certificate with nginx stopped or
    missing must not send phones to a dead address."""
    if not current_app.config.get("SECURE_ORIGIN_LISTENER_CHECK", True):
        return True
    cache = current_app.extensions.setdefault("secure_origin_listener", {})
    now = time.monotonic()
    with _listener_lock:
        found = cache.get((address, port))
        if found is not None and now - found[0] < LISTENER_CHECK_S:
            return found[1]
    try:
        socket.create_connection((address, port), timeout=0.5).close()
        up = True
    except OSError:
        up = False
    with _listener_lock:
        cache[(address, port)] = (now, up)
    return up


def _hsts(response):
    if request.scheme != "https" or "secure_origin" not in current_app.extensions:
        return response
    held = status()
    if held.valid and held.not_after is not None and request.host.split(":")[0] == held.name:
        left = int((held.not_after - dt.datetime.now(dt.UTC)).total_seconds())
        response.headers["Strict-Transport-Security"] = f"max-age={max(0, min(left, HSTS_MAX_S))}"
    return response
