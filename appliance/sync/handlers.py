"""What the box does with each kind central sends down.

The package that owns the records registers the handler: the board applies answers,
the sync's downloads take catalogue files, announcements stay in ``sync_inbox`` for
the portal and the kiosk. Each package exposes ``register_sync(registry)``: the core's
modules, listed in :data:`PACKAGES`, are loaded before the first record is applied;
every other package (secure_origin, sms...) hands its ``register_sync`` to the
composition root in its ``contribute`` (``registry.sync_handlers(...)``), and
:mod:`espace` installs them (:func:`install`) when it builds the process's registry,
which the app, the ``espace`` command and the worker all do before anything runs. A
package that fails to import is an error, never a silent skip; a kind with no handler
is kept in ``sync_inbox`` and counted (:func:`unknown_count`).

A handler runs inside the transaction that stores the record in ``sync_inbox`` and
moves the pull cursor. It returns who applied it (``"board"``...) or ``""`` when it
cannot be applied yet (the answer's post is not on this box): the row stays in the
inbox either way, so nothing central sent is ever lost.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

from sync_contract import kinds
from sync_contract.handlers import Registry

from .. import blobs
from . import state

log = logging.getLogger("espace.sync")

DOWN = Registry(kinds.DOWN)
register = DOWN.register

# The core's modules that register handlers for down-kinds (other packages: install()).
PACKAGES = ("appliance.board.sync", "appliance.sync.handlers", "appliance.labels.sync")
_loaded: set[str] = set()
_installed: set[Any] = set()


def install(register_sync: Any) -> Registry:
    """Have a package's ``register_sync`` register its handlers, once per process
    (called by the composition root for every package's contribution)."""
    if register_sync not in _installed:
        register_sync(DOWN)
        _installed.add(register_sync)
    return DOWN


def load(modules: tuple[str, ...] = PACKAGES) -> Registry:
    """Have each module register its handlers (once); returns the registry."""
    for name in modules:
        if name not in _loaded:
            importlib.import_module(name).register_sync(DOWN)
            _loaded.add(name)
    return DOWN


def apply(kind: str, payload: Any, options: Any = None) -> str:
    """Apply one pulled record inside the caller's transaction; return who applied it,
    or "" when it stays in ``sync_inbox`` unapplied: an unknown kind (from a newer
    central) or a payload that does not match its declaration is kept and logged,
    never fatal."""
    load()
    fn = DOWN.get(kind)
    if fn is None:
        log.warning("kept a pulled record of unknown kind %r (a newer central?)", kind)
        return ""
    try:
        kinds.down_kind(kind).validate(payload, strict=False)
    except kinds.ContractError as e:
        log.warning("kept a pulled record that does not match the contract: %s", e)
        return ""
    return fn(payload, options) or ""


def unknown_count() -> int:
    """Records in ``sync_inbox`` whose kind this box has no handler for."""
    load()
    return sum(n for kind, n in state.inbox_kinds().items() if kind not in DOWN)


# --- the sync's own handlers -----------------------------------------------------------


def _catalogue_file(payload: dict, options: Any) -> str:
    name = Path(payload["name"]).name
    sha = payload["sha"]
    if options is None or not name or not blobs.HEX64.fullmatch(sha):
        return ""
    state.SyncDownload.insert(
        sha256=sha, name=name, size=payload["size"], pieces=json.dumps(payload["pieces"]),
        dest=str(Path(options.content_dir) / name)).on_conflict_ignore().execute()
    return "downloads"


def _announcement(payload: dict, options: Any) -> str:
    # Kept in sync_inbox, where the portal's home and the kiosk read it.
    return "inbox"


def register_sync(registry: Registry) -> None:
    registry.add(kinds.CATALOGUE_FILE, _catalogue_file)
    registry.add(kinds.ANNOUNCEMENT, _announcement)
