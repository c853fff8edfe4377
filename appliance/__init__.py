"""The box's core: config, database and domain models (board, programme), the sync
client, the facilitator kiosk, health. What it adds to the box's app, CLI and worker is
listed by :func:`contribute`; the app, the ``espace`` command and the worker are made
by the composition root, :mod:`espace`."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("espace-connecte")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+src"


def create_app(test_config=None):
    """The box's whole web app: a thin alias of :func:`espace.app.create_app` (imported
    lazily: nothing at import time, and the core never imports the root while loading)."""
    from espace.app import create_app as factory

    return factory(test_config)


def contribute(registry) -> None:
    """The core's share of the box (see :mod:`espace.registry`)."""
    from . import labels
    from .cli import config, doctor
    from .msgids import N_
    from .sync.cli import enroll, sync

    # The kiosk's blueprint and its own tabs (order: 10, 20... leaves room between),
    # declared here: importing appliance.kiosk makes its Flask blueprint, which the
    # commands that build this registry (`espace sync now`) must not pay for.
    registry.blueprint("appliance.kiosk:blueprint")
    registry.kiosk_tab("kiosk.moderation", N_("Board"), "ask", order=10)
    registry.kiosk_tab("kiosk.index", N_("Today"), "today", order=20)
    registry.kiosk_tab("kiosk.week", N_("Week"), "week", order=30)
    registry.kiosk_tab("kiosk.session_new", N_("New session"), "new", order=40)
    registry.kiosk_tab("kiosk.health", N_("Health"), "health", order=80)
    labels.contribute(registry)
    registry.blueprint("appliance.api:bp")
    registry.command(config)
    registry.command(doctor)
    # `espace sync ...` and `espace enroll URL CODE`: the sync with central.
    registry.command(sync)
    registry.command(enroll)
    # Jobs and sweeps by reference: imported by the worker, not by every command.
    registry.job("sync", "appliance.worker:sync_job", "interval",
                 "sync with central when allowed", minutes=5)
    registry.job("cleanup", "appliance.worker:cleanup_job", "cron", "daily clean-up", hour=3,
                 minute=17)
    registry.job("programme_release", "appliance.worker:programme_release_job", "interval",
                 "give released reserved seats to the waiting lists", minutes=5)
    registry.sweep("blobs", "appliance.worker:sweep_blobs")
