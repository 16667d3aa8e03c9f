"""MT systems. Importing this package registers every built-in backend."""

from vlmfr_data.mt import apertium, ctranslate2_backend, hf_causal, hf_seq2seq  # noqa: F401  (registration)
from vlmfr_data.mt.base import Availability, BackendUnavailable, MTSystem, backend_names, create_system

__all__ = ["Availability", "BackendUnavailable", "MTSystem", "backend_names", "create_system"]
