"""Handlers registered against declared kinds: central's for up-kinds, the box's for
down-kinds. A registry never guesses: a kind is handled by the one function registered
for it, and registering an undeclared kind (or one twice) is an error at import."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .kinds import DOWN, UP, ContractError, Kind, down_kind, up_kind

Handler = Callable[..., Any]


class Registry:
    """Handlers for the kinds of one direction, looked up by kind name."""

    def __init__(self, direction: str) -> None:
        assert direction in (UP, DOWN)
        self.direction = direction
        self._handlers: dict[str, Handler] = {}

    def _kind(self, kind: Kind | str) -> Kind:
        name = kind.name if isinstance(kind, Kind) else kind
        return up_kind(name) if self.direction == UP else down_kind(name)

    def register(self, kind: Kind | str) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.register(kinds.ANSWER)``."""
        declared = self._kind(kind)

        def decorate(fn: Handler) -> Handler:
            self.add(declared, fn)
            return fn

        return decorate

    def add(self, kind: Kind | str, fn: Handler) -> None:
        declared = self._kind(kind)
        current = self._handlers.get(declared.name)
        if current is not None and current is not fn:
            raise ContractError(f"{declared.name!r} already has a handler "
                                f"({current.__module__}.{current.__qualname__})")
        self._handlers[declared.name] = fn

    def get(self, name: str) -> Handler | None:
        """The handler for ``name``, or None (an unknown kind: the caller keeps and
        reports the record, it never drops it)."""
        return self._handlers.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))
