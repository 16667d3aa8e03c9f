"""The MT-system extension point: one protocol, a registry, and the availability report.

Adding an MT system is one new module: a class with the attributes below, decorated with
an entry in `BACKENDS` below, constructed from `MTSystemConfig.options`. A system whose model or binary
is missing says so in `availability()` (why, and how to install) and the pipeline goes on without it;
it never invents output.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from vlmfr_data import plugins
from vlmfr_data.config import MTSystemConfig
from vlmfr_data.registry import Availability, Registry, UnknownEntry

DEFAULT_MASKED_KINDS = frozenset({"special", "url", "email", "entity", "code", "placeholder"})
# What `mt/run.py` does around every engine (masking, restoring, span checks, output tidying). Every
# backend's `version` ends with it, so the translation cache re-translates when it changes.
# spans2: e-mails and HTML entities masked, fenced code kept out of MT, span counts by exact token.
# tidy1: double spaces and a space before . , ) removed from MT output (`mt/tidy.py`).
PIPELINE_VERSION = "spans2 tidy1"


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


# The registry key is the backend; `name` stays the configured system's name. Modules load on first use
# (hf_causal imports torch), so listing backends is free.
BACKENDS: Registry[MTSystem] = plugins.BACKENDS  # the entries live in vlmfr_data.plugins


def create_system(config: MTSystemConfig) -> MTSystem:
    if config.backend not in BACKENDS and ":" not in config.backend:
        raise UnknownEntry(f"MT system {config.name!r}: {BACKENDS.unknown(config.backend)}")
    try:
        return BACKENDS.create(config.backend, name=config.name, **config.options)
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
    # How a short segment is written after its context (mt/context.py): "source" keeps its case and
    # punctuation (rule-based engines), "sentence" writes it as a capitalised, full-stopped sentence (LLMs).
    context_style = "source"

    def direction_tag(self) -> str:
        """Empty for English -> French, else " <src>-><tgt>": part of a version, so a system turned round
        (translate-test's FR -> EN) never shares cache rows with the original."""
        if (self.source_lang, self.target_lang) == ("en", "fr"):
            return ""
        return f" {self.source_lang}->{self.target_lang}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": getattr(self, "name", "?"),
            "backend": getattr(self, "backend", "?"),
            "version": self.version,
        }

    @property
    def version(self) -> str:  # pragma: no cover - every backend overrides
        return "unknown"
