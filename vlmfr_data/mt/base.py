"""The MT-system extension point: one protocol, a registry, and the availability report.

Adding an MT system is one new module: a class with the attributes below, decorated with
`@register_backend("name")`, constructed from `MTSystemConfig.options`. A system whose model or binary
is missing says so in `availability()` (why, and how to install) and the pipeline goes on without it;
it never invents output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from vlmfr_data.config import MTSystemConfig

DEFAULT_MASKED_KINDS = frozenset({"special", "url", "code", "placeholder"})


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""

    def __str__(self) -> str:
        return "available" if self.ok else f"unavailable: {self.reason}"


class BackendUnavailable(RuntimeError):
    """Raised when asked to translate with a system that is not available; the message says why."""


@runtime_checkable
class MTSystem(Protocol):
    name: str  # the configured name (a Dagster partition, the `system` column)
    backend: str  # the registered backend it runs on
    source_lang: str
    target_lang: str
    # Protected-span kinds replaced by sentinels before translation (numbers are only checked after).
    masked_kinds: frozenset[str]
    # Sentinel pattern for masked spans, with one `{}` for the index; must survive the engine unchanged.
    sentinel: str
    # What one `translate` call costs in the user's unit (API money, GPU-seconds); 0 for local engines.
    cost_per_call: float

    @property
    def version(self) -> str: ...

    def availability(self) -> Availability: ...

    def translate(self, texts: list[str]) -> list[str]:
        """Translate a batch; the result has the same length and order as `texts`."""
        ...


_BACKENDS: dict[str, Callable[..., MTSystem]] = {}


def register_backend(name: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        _BACKENDS[name] = cls
        return cls

    return decorate


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def create_system(config: MTSystemConfig) -> MTSystem:
    if config.backend not in _BACKENDS:
        raise KeyError(
            f"MT system {config.name!r}: unknown backend {config.backend!r}; known: {backend_names()}"
        )
    try:
        return _BACKENDS[config.backend](name=config.name, **config.options)
    except TypeError as exc:
        raise TypeError(
            f"MT system {config.name!r} (backend {config.backend!r}): bad options: {exc}"
        ) from exc


class SystemDefaults:
    """Shared defaults for concrete systems (mix in; every attribute can be overridden)."""

    source_lang = "en"
    target_lang = "fr"
    masked_kinds: frozenset[str] = DEFAULT_MASKED_KINDS
    sentinel = "XQZ{}"
    cost_per_call = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "name": getattr(self, "name", "?"),
            "backend": getattr(self, "backend", "?"),
            "version": self.version,
        }

    @property
    def version(self) -> str:  # pragma: no cover - every backend overrides
        return "unknown"
