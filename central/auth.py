"""Admin sessions: hashed passwords, CSRF tokens, roles.

A regional admin sees and acts on the sites of their region; a national viewer sees
every site and changes nothing."""

from __future__ import annotations

import functools
import secrets

from flask import abort, g, redirect, request, session, url_for

from .models import Admin, Site
from .service import constant_time_equal


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not constant_time_equal(sent, session.get("csrf", "")):
        abort(400, "missing or wrong CSRF token: reload the page")


def load_admin() -> None:
    g.admin = None
    admin_id = session.get("admin_id")
    if admin_id is not None:
        admin = Admin.get_or_none((Admin.id == admin_id) & (Admin.active == True))  # noqa: E712
        g.admin = admin


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.admin is None:
            return redirect(url_for("admin.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def writer_required(view):
    """Regional admins only: national viewers are read-only."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if g.admin.role != "regional":
            abort(403, "national viewers cannot change anything")
        return view(*args, **kwargs)

    return wrapped


def visible_sites():
    query = Site.select().order_by(Site.slug)
    if g.admin.role == "regional":
        query = query.where(Site.region == g.admin.region_id)
    return query


def can_see(site: Site) -> bool:
    return g.admin.role == "national" or site.region_id == g.admin.region_id
