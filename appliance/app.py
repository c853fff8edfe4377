"""The core of the box's app factory: defaults, then the site config, then the test
override; the database, migrations, sessions, languages and error pages.

The blueprints come from every package's contribution and are assembled by the
composition root (:func:`espace.app.create_app`); :func:`create_app` here is a thin
alias of it, kept for the tests and tools that import it. Nothing connects, listens or
writes at import time.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import peewee
from flask import Flask, g, render_template, request
from flask_compress import Compress
from werkzeug.exceptions import HTTPException

from sync_contract import bidi
from sync_contract.atomic import create_once

from . import csrf, i18n, migrations, scripts, settings, urlint
from . import db as dbmod
from .models import Commune
from .sessions import CachedSessionInterface

DEFAULT_SITE_FILE = "/etc/espace/site.toml"


def site_file() -> str:
    return os.environ.get("ESPACE_SITE", DEFAULT_SITE_FILE)


def _secret_key(data_dir: Path) -> str:
    """A per-box secret, made once and kept in the data directory (mode 0600)."""
    return create_once(data_dir / "secret_key", secrets.token_hex(32), 0o600).decode().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The box's whole web app: see :func:`espace.app.create_app`."""
    from espace.app import create_app as composed

    return composed(test_config)


def create_core_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The box's web app without any package's blueprints (:mod:`espace.app` adds them).

    ``test_config`` may carry ``SITE`` (a parsed site document, validated as if read
    from a file in ``SITE_DIR``) or ``SITE_FILE``, plus any Flask setting."""
    app = Flask(__name__)
    # JSON as UTF-8, not \uXXXX: a French fallback's marks (appliance.i18n) must stay
    # characters in a page's JSON (tojson) and in JSON answers, where the after-request
    # step removes them; escaped, phones drew them as boxes around the French.
    app.json.ensure_ascii = False
    test_config = dict(test_config or {})
    if "SITE" in test_config:
        path = str(Path(test_config.pop("SITE_DIR", ".")) / "site.toml")
        site = settings.validate(test_config.pop("SITE"), path)
    else:
        site = settings.load(test_config.pop("SITE_FILE", None) or site_file())
    app.config.from_mapping(
        SITE=site,
        DATA_DIR=site.data_dir,
        # The largest body a visitor may send: a voice note plus the form around it.
        MAX_CONTENT_LENGTH=site.board.max_voice_bytes + 256 * 1024,
        MAX_FORM_MEMORY_SIZE=256 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SEND_FILE_MAX_AGE_DEFAULT=7 * 24 * 3600,
        COMPRESS_ALGORITHM=["gzip", "br"],
        COMPRESS_LEVEL=6,
        COMPRESS_MIN_SIZE=500,
        COMPRESS_MIMETYPES=["text/html", "text/css", "text/plain", "application/json",
                            "application/javascript", "text/javascript", "image/svg+xml"],
        BUILD_DATE="2026-11-01",
    )
    app.config.update(test_config)
    site.data_dir.mkdir(parents=True, exist_ok=True)
    app.config.setdefault("SECRET_KEY", None)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(site.data_dir)

    database = dbmod.open_database(site.data_dir)
    migrations.migrate(database)
    _sync_communes(site)
    database.close()

    @app.before_request
    def _connect() -> None:
        # One connection per server thread, kept open: the pragmas run once per thread.
        dbmod.database.connect(reuse_if_open=True)

    app.session_interface = CachedSessionInterface()
    Compress(app)
    i18n.init_app(app)
    csrf.init_app(app)
    urlint.init_app(app)
    scripts.init_app(app)
    bidi.init_jinja(app)
    _register_errors(app)
    return app


def _sync_communes(site) -> None:
    """The site config names the communes; keep the table in step (never deletes,
    since posts refer to them)."""
    with dbmod.database.atomic():
        for name in site.site.communes:
            Commune.get_or_create(name=name)


FALLBACK_ERROR = ("<!doctype html><meta charset=utf-8><title>Espace</title><p>Erreur sur la "
                  "boîte. Rien de ce que vous avez enregistré n'est perdu. <a href=/>Accueil</a>")


def _register_errors(app: Flask) -> None:
    """A visitor never sees a stack trace: every error is a small page in their
    language (or JSON under /api)."""

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if request.path.startswith("/api/"):
            return {"error": e.name, "detail": e.description}, e.code
        return render_template("error.html", code=e.code, error=e), e.code

    @app.errorhandler(peewee.OperationalError)
    def _busy(e: peewee.OperationalError):
        # Writers wait up to busy_timeout (appliance.db); past it, a class of phones
        # saving at once gets "busy, send again" and a Retry-After, not a crash page that
        # says nothing was lost when this very write was not kept.
        if "locked" not in str(e) and "busy" not in str(e):
            return _crash(e)
        app.logger.warning("database busy on %s: answered 503", request.path)
        headers = {"Retry-After": "2"}
        if request.path.startswith("/api/"):
            return {"error": "Service Unavailable", "detail": "busy, retry"}, 503, headers
        return _error_page(503, headers)

    @app.errorhandler(Exception)
    def _crash(e: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return {"error": "Internal Server Error"}, 500
        return _error_page(500)

    def _error_page(code: int, headers: dict | None = None):
        headers = headers or {}
        try:
            if not hasattr(g, "language"):
                g.language = i18n.LANGUAGES[app.config["SITE"].site.default_language]
                g.lang = g.language.code
            return render_template("error.html", code=code, error=None), code, headers
        except Exception:
            app.logger.exception("the error page itself failed")
            return FALLBACK_ERROR, code, {**headers, "Content-Type": "text/html; charset=utf-8"}
