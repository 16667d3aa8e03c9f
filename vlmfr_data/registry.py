"""One registry for every extension point: dataset formats, MT backends, quality signals, VLM families,
training methods, benchmarks.

An entry maps a name to a class, or to the string `"module:Class"` so that listing the names never
imports the module (an MT backend's module imports torch; `vlmfr sql` must not). A name that is not
registered but has the form `"module:Class"` loads that class directly: that is how a user plugs in an
extension that lives in their own package, from the config file, without editing this project.

    FORMATS = Registry("dataset format", entries={"llava": "vlmfr_data.datasets.llava:LlavaFormat"})
    FORMATS.names()                       # ['llava']; nothing imported
    FORMATS.create("llava")               # imports, stamps `LlavaFormat.name = "llava"`, instantiates

    @FORMATS.register("my_format")        # or: FORMATS.register("my_format", "pkg.mod:MyFormat")
    class MyFormat: ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Availability:
    """Whether a plug-in can run here; when not, `reason` says why and how to fix it."""

    ok: bool
    reason: str = ""

    def __str__(self) -> str:
        return "available" if self.ok else f"unavailable: {self.reason}"


class UnknownEntry(KeyError):
    """A name no registry entry answers to; the message lists what is known."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class Registry(Generic[T]):
    """Names -> classes for one extension point.

    `name_attr`: the class attribute stamped with the registered name when the class is loaded
    (`"name"` for most; MT systems keep `name` for the configured system and use `"backend"`). The
    name is written once, at registration, never repeated inside the class.
    """

    def __init__(self, kind: str, *, name_attr: str | None = "name", entries: dict[str, str] | None = None):
        self.kind = kind
        self.name_attr = name_attr
        self._targets: dict[str, str | type] = dict(entries or {})

    def register(self, name: str, target: str | type | None = None) -> Callable[[type], type]:
        """Register `target` (a class or `"module:Class"`) under `name`; without a target, a decorator."""
        if target is not None:
            self._targets[name] = target
            return lambda cls: cls

        def decorate(cls: type) -> type:
            self._targets[name] = cls
            self._stamp(name, cls)
            return cls

        return decorate

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def unknown(self, name: str) -> UnknownEntry:
        return UnknownEntry(
            f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or '(none)'} "
            "(or 'package.module:Class' for a plug-in of your own)"
        )

    def get(self, name: str) -> type[T]:
        """The class registered as `name` (imported on first use)."""
        target = self._targets.get(name)
        if target is None:
            if ":" not in name:
                raise self.unknown(name)
            target = name
        cls = _load(target, self.kind, name) if isinstance(target, str) else target
        self._targets[name] = cls
        self._stamp(name, cls)
        return cls

    def create(self, name: str, /, **options: Any) -> T:
        return self.get(name)(**options)

    def _stamp(self, name: str, cls: type) -> None:
        if self.name_attr:
            setattr(cls, self.name_attr, name)


def _load(target: str, kind: str, name: str) -> type:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"{kind} {name!r}: cannot import {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ImportError(f"{kind} {name!r}: module {module_name!r} has no {attr!r}") from exc
