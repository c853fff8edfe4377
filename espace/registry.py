"""The one registry every package contributes to: blueprints (and app set-ups), CLI
commands, worker jobs, start-up sweeps, home tiles, kiosk tabs and the handlers of the
kinds central sends down.

A package exposes ``contribute(registry)`` (listed once in :mod:`espace`), which calls
the methods below. The registry is plain data: it imports no package, so a package may
receive one without importing :mod:`espace` (arrows point down). The app, the CLI and
the worker are all made from the same registry, so a package's contribution, including
the pull handlers it registers with the sync, is loaded the same way in each process.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A contribution a process may never use (a blueprint, a job, a sweep, an app set-up)
# can be given as "package.module:attribute": its module is imported only when the app
# or the worker uses it. ``espace sync now`` builds the same registry for its commands
# and pull handlers; with references it no longer imports every page's module (libzim,
# markdown-it, pyxform, pmtiles...), which its peak memory had paid for (bench/sync.py T9).
Ref = Callable[..., Any] | str


def resolve(ref: Any) -> Any:
    """The object a ``"module:attribute"`` reference names (imported now); anything
    else as it is."""
    if not isinstance(ref, str):
        return ref
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise RegistryError(f"{ref!r} is not a 'package.module:attribute' reference")
    obj: Any = importlib.import_module(module)
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def resolve_blueprint(ref: Any) -> Any:
    """A contributed blueprint: the Blueprint itself, or a reference to one or to a
    function returning one (for a blueprint whose routes other modules add)."""
    obj = resolve(ref)
    return obj() if isinstance(ref, str) and callable(obj) else obj


class RegistryError(Exception):
    """Two packages claim the same name (a job id, a command, a tab, a tile)."""


@dataclass(frozen=True)
class Job:
    """A worker job: ``func(app)`` returns a short summary that the worker logs."""

    id: str
    target: Ref  # the function, or "module:function" (imported at the first run)
    trigger: str  # "interval" or "cron"
    args: dict
    description: str

    @property
    def func(self) -> Callable[[Any], object]:
        return resolve(self.target)


@dataclass(frozen=True)
class Tile:
    """A tile of the visitor's home page. ``label`` is a msgid (``N_("Learn")``, see
    :mod:`appliance.msgids`), translated by the page that shows it; ``icon`` names a
    symbol of ``appliance/templates/_icons.svg`` (``#i-<icon>``); ``css`` is the tile's
    colour class in ``_style.css``."""

    endpoint: str
    label: str
    icon: str
    css: str
    order: int


@dataclass(frozen=True)
class KioskTab:
    """A tab of the facilitator's kiosk (``label`` is a msgid, as a tile's)."""

    endpoint: str
    label: str
    icon: str
    order: int


@dataclass(frozen=True)
class Sweep:
    """Removes what a power cut left half-written. Runs when the app starts (web and
    worker) and daily in the worker; must be safe while other processes write (files
    a live writer holds locked are left alone). ``func(site)`` returns a summary."""

    id: str
    target: Ref  # the function, or "module:function"

    @property
    def func(self) -> Callable[[Any], object]:
        return resolve(self.target)


@dataclass(frozen=True)
class AppSetup:
    """``func(app)``, run once the blueprints are registered, for what a blueprint cannot
    carry (an app extension, a hook on every response)."""

    id: str
    target: Ref  # the function, or "module:function"

    @property
    def func(self) -> Callable[[Any], None]:
        return resolve(self.target)


@dataclass
class Registry:
    blueprints: list = field(default_factory=list)
    app_setups: list[AppSetup] = field(default_factory=list)
    commands: list = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    tiles: list[Tile] = field(default_factory=list)
    kiosk_tabs: list[KioskTab] = field(default_factory=list)
    # Each package's register_sync(registry) for the kinds central sends down (the
    # box's pull handlers, sync_contract.handlers).
    sync_handlers: list = field(default_factory=list)
    # Which package contributed what, for error messages and tests: name -> package.
    origin: dict[str, str] = field(default_factory=dict)
    package: str = ""

    def _claim(self, what: str) -> None:
        if what in self.origin:
            raise RegistryError(
                f"{what} is contributed by both {self.origin[what]} and {self.package}"
            )
        self.origin[what] = self.package

    def blueprint(self, bp) -> None:
        """A Flask blueprint, registered in contribution order (the captive portal's
        ``accept`` comes first: its hook answers probes before any other); or a
        ``"module:attribute"`` reference to it (or to a function returning it),
        imported only by the app (:func:`resolve_blueprint`)."""
        self._claim(f"blueprint {bp if isinstance(bp, str) else bp.name}")
        self.blueprints.append(bp)

    def app_setup(self, id: str, func: Ref) -> None:
        self._claim(f"app setup {id}")
        self.app_setups.append(AppSetup(id, func))

    def command(self, cmd) -> None:
        """A click command or group of the ``espace`` CLI."""
        self._claim(f"command {cmd.name}")
        self.commands.append(cmd)

    def job(self, id: str, func: Ref, trigger: str, description: str, **args) -> None:
        """A worker job, e.g. ``job("sync", "appliance.worker:sync_job", "interval",
        "...", minutes=5)`` (the function itself is accepted too)."""
        if trigger not in ("interval", "cron"):
            raise RegistryError(f"job {id}: trigger is 'interval' or 'cron', not {trigger!r}")
        self._claim(f"job {id}")
        self.jobs.append(Job(id, func, trigger, args, description))

    def sweep(self, id: str, func: Ref) -> None:
        self._claim(f"sweep {id}")
        self.sweeps.append(Sweep(id, func))

    def tile(self, endpoint: str, label: str, icon: str, css: str = "", order: int = 50) -> None:
        self._claim(f"tile {endpoint}")
        self.tiles.append(Tile(endpoint, label, icon, css or icon, order))
        self.tiles.sort(key=lambda t: t.order)

    def kiosk_tab(self, endpoint: str, label: str, icon: str = "", order: int = 50) -> None:
        self._claim(f"kiosk tab {endpoint}")
        self.kiosk_tabs.append(KioskTab(endpoint, label, icon, order))
        self.kiosk_tabs.sort(key=lambda t: t.order)

    def sync_handler(self, register_sync: Callable[[Any], None]) -> None:
        """A package's ``register_sync(down_registry)``: it registers its handlers for
        the kinds central sends down (``appliance.sync.handlers.install`` runs it)."""
        self._claim(f"sync handlers {register_sync.__module__}")
        self.sync_handlers.append(register_sync)

    def contributed_by(self, package: str) -> list[str]:
        """What ``package`` contributed ("job sync", "tile board.index", ...)."""
        return [what for what, p in self.origin.items() if p == package]
