"""The box itself: config, database and domain models, the app factory, the CLI,
the worker, the sync client, the facilitator kiosk, health."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("espace-connecte")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+src"


def create_app(test_config=None):
    """See :func:`appliance.app.create_app` (imported lazily: nothing at import time)."""
    from .app import create_app as factory

    return factory(test_config)
