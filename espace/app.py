"""The box's web app, made from the core factory and every package's contribution."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .registry import Registry, resolve_blueprint

# Where the app keeps its registry: the kiosk's tabs and the home tiles are read from it
# at render time (packages look it up by this key, never import espace).
EXTENSION = "espace.registry"


def create_app(
    test_config: dict[str, Any] | None = None, registry: Registry | None = None
) -> Flask:
    """Build the box's web app: the core (:func:`appliance.app.create_core_app`: config,
    database, migrations, languages, error pages), then every contributed blueprint and
    app set-up, then the start-up sweeps (what a power cut left half-written).

    ``registry`` defaults to this process's (:func:`espace.default_registry`); tests pass one
    built with an extra package."""
    from appliance import scripts
    from appliance.app import create_core_app

    from . import default_registry

    reg = registry if registry is not None else default_registry()
    app = create_core_app(test_config)
    app.extensions[EXTENSION] = reg
    _register_blueprints(app, reg)
    for setup in reg.app_setups:
        setup.func(app)
    # Every package's static folder (a set-up may register a blueprint too) served from
    # memory, gzipped, under URLs versioned by content (appliance.scripts).
    scripts.serve_static_folders(app)
    run_sweeps(app, reg)
    return app


def _register_blueprints(app: Flask, reg: Registry) -> None:
    # In contribution order: the captive portal's accept first, its before_app_request
    # answers connectivity probes and foreign Host names before any other hook or route.
    # Every reference is imported first: a module may add routes to another package's
    # blueprint (the labels' kiosk pages join the kiosk's), which Flask allows only
    # before that blueprint is registered.
    for bp in [resolve_blueprint(ref) for ref in reg.blueprints]:
        app.register_blueprint(bp)


def run_sweeps(app: Flask, reg: Registry) -> list[str]:
    """Run every sweep once (at start, and daily from the worker); one failing sweep is
    logged and does not stop the others or the start."""
    from appliance.db import database

    done = []
    site = app.config["SITE"]
    with app.app_context(), database.connection_context():
        for sweep in reg.sweeps:
            try:
                result = sweep.func(site)
            except Exception:
                app.logger.exception("sweep %s failed", sweep.id)
                continue
            if result:
                app.logger.warning("sweep %s: %s", sweep.id, result)
                done.append(f"{sweep.id}: {result}")
    return done
