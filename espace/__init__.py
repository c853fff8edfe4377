"""The composition root: makes the box's web app (:mod:`espace.app`), the ``espace``
command (:mod:`espace.cli`) and the worker (:mod:`espace.worker`) from what each package
contributes to one :class:`~espace.registry.Registry`.

Every package that adds something to the box is listed once, below, by its
``contribute(registry)`` function: no discovery, no names guessed from strings. A new
capability (sms/, surveys/, maps/) adds one line here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from .registry import Registry

Contributor = Callable[[Registry], None]


def contributors() -> list[tuple[str, Contributor]]:
    """Every package's ``contribute``, in order. Imported here, not at module level, so
    that ``import espace`` costs nothing. Order matters only for blueprints: the
    captive portal's comes first (its ``accept`` hook answers connectivity probes
    before any other route or hook sees them)."""
    import appliance
    import captive_portal
    import content_cache
    import image_build
    import learning
    import maps
    import provisioning
    import secure_origin
    import sms
    import surveys

    return [
        ("captive_portal", captive_portal.contribute),
        ("appliance", appliance.contribute),
        ("content_cache", content_cache.contribute),
        ("provisioning", provisioning.contribute),
        ("image_build", image_build.contribute),
        ("secure_origin", secure_origin.contribute),
        ("sms", sms.contribute),
        ("maps", maps.contribute),
        ("surveys", surveys.contribute),
        ("learning", learning.contribute),
    ]


def build(packages: Iterable[tuple[str, Contributor]] | None = None) -> Registry:
    """A new registry filled by ``packages`` (default: :func:`contributors`)."""
    reg = Registry()
    for name, contribute in contributors() if packages is None else packages:
        reg.package = name
        contribute(reg)
    reg.package = ""
    return reg


@functools.cache
def default_registry() -> Registry:
    """This process's registry, built once: the app, the CLI and the worker of one
    process share it, and each package's pull handlers are installed in the sync, once,
    before any of them applies a record central sent."""
    from appliance.sync import handlers

    reg = build()
    handlers.load()  # the core's own
    for register_sync in reg.sync_handlers:
        handlers.install(register_sync)
    return reg


def create_app(test_config=None, registry: Registry | None = None):
    """See :func:`espace.app.create_app`."""
    from .app import create_app as factory

    return factory(test_config, registry)
