"""MT systems: one module per backend, registered (lazily) in `base.BACKENDS`; importing this package
imports no engine (hf_causal pulls torch only when a system of that backend is created)."""

from vlmfr_data.mt.base import BACKENDS, BackendUnavailable, MTSystem, create_system
from vlmfr_data.registry import Availability

__all__ = ["BACKENDS", "Availability", "BackendUnavailable", "MTSystem", "create_system"]
