"""One registry pattern for backends, model backends, agents and algorithms.

``@REGISTRY.register("name")`` adds a class; built-ins are imported lazily by name (so optional SDKs
stay optional); plugins come in through an entry-point group; a failed lookup names the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from sia_sandbox.errors import ConfigError

T = TypeVar("T")
C = TypeVar("C")


class Registry(Generic[T]):
    """Name -> class.

    Args:
        kind: what the entries are, for messages ("sandbox backend").
        group: the entry-point group plugins register in.
        builtins: name -> module that registers it when imported.
    """

    def __init__(self, kind: str, group: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self.group = group
        self.builtins = dict(builtins)
        self._classes: dict[str, type[T]] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[C], C]:
        """Class decorator: make the class available under ``name`` (and set its ``name``)."""

        def deco(cls: C) -> C:
            cls.name = name  # type: ignore[attr-defined]
            self._classes[name] = cls  # type: ignore[assignment]
            return cls

        return deco

    def is_registered(self, name: str) -> bool:
        """Whether a class is registered as ``name`` already (built-ins not yet imported are not)."""
        return name in self._classes

    def _load_plugins(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            for ep in entry_points(group=self.group):
                ep.load()

    def names(self) -> list[str]:
        """Every built-in and registered name (usable here or not)."""
        self._load_plugins()
        return sorted({*self._classes, *self.builtins})

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``, importing its built-in module on first use.

        Raises:
            ConfigError: no entry has that name (the message lists them), or its module needs a
                package that is not installed.
        """
        if name not in self._classes and name in self.builtins:
            try:
                importlib.import_module(self.builtins[name])
            except ModuleNotFoundError as e:
                if e.name and e.name.startswith("sia_sandbox"):
                    raise
                raise ConfigError(f"{self.kind} {name!r} needs the {e.name!r} package, which is not installed",
                                  hint=f"run `pip install {e.name}`") from e
        if name not in self._classes:
            self._load_plugins()
        try:
            return self._classes[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}", hint=f"choose one of: {', '.join(self.names())}") from None
