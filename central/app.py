"""Central's app factory: defaults, then the instance config file, then the test override.

Settings (Flask config keys, also read from ``CENTRAL_CONFIG``, a Python file):
``DATA_DIR`` (blobs, files, central's key; default ``./central-data``), ``DATABASE_URL``
(``sqlite:///...`` by default, ``postgresql://user@host/db`` in production),
``SECRET_KEY`` (sessions; made once in DATA_DIR if absent), ``SESSION_COOKIE_SECURE``
(true: central is served over HTTPS; set false only for a loopback test).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from . import db as dbmod
from . import migrations, service


def _secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


class _BoundedInt(IntegerConverter):
    """Ids in URLs stop where database integers do: a larger one is a 404, not a 500
    from the query (the box has the same converter in appliance/urlint.py)."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = _BoundedInt
    app.config.from_mapping(
        DATA_DIR=os.environ.get("CENTRAL_DATA_DIR", "central-data"),
        DATABASE_URL=os.environ.get("CENTRAL_DATABASE_URL", ""),
        SECRET_KEY=None,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="central_session",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        # An exchange of 1 MiB of JSON compresses to far less; blobs stream in pieces.
        MAX_CONTENT_LENGTH=32 * 2**20,
    )
    if test_config is None and os.environ.get("CENTRAL_CONFIG"):
        app.config.from_pyfile(os.environ["CENTRAL_CONFIG"])
    if test_config:
        app.config.update(test_config)
    data_dir = Path(app.config["DATA_DIR"]).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = data_dir
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret(data_dir)
    database = dbmod.open_database(app.config["DATABASE_URL"], data_dir)
    with database.connection_context():
        migrations.migrate(database)
    app.config["CENTRAL_KEY"] = service.central_key(data_dir)

    @app.before_request
    def _refuse_nul() -> None:
        # PostgreSQL text cannot hold NUL: a %00 in a path, query or form field would
        # reach a lookup and fail as a 500. No page of central takes one.
        values = [request.path, *(v for vs in request.args.listvalues() for v in vs)]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [v for vs in request.form.listvalues() for v in vs]
        if any("\x00" in v for v in values):
            abort(400)

    @app.before_request
    def _connect() -> None:
        dbmod.database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc) -> None:
        if not dbmod.database.is_closed():
            dbmod.database.close()

    from sync_contract import bidi

    from . import (
        admin,
        coaching_views,
        directory_views,
        i18n,
        learning,
        reports_views,
        surveys_views,
        sync_views,
    )

    i18n.init_app(app)
    bidi.init_jinja(app)
    app.register_blueprint(sync_views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(reports_views.bp)
    app.register_blueprint(learning.bp)
    app.register_blueprint(directory_views.bp)
    app.register_blueprint(surveys_views.bp)
    app.register_blueprint(coaching_views.bp)
    return app
