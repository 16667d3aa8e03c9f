"""Quality signals. Importing this package registers every built-in signal."""

from vlmfr_data.quality import comet, heuristics, lexicon, lid, round_trip, similarity  # noqa: F401  (registration)
from vlmfr_data.quality.base import QualitySignal, create_signal, register_signal, signal_names

__all__ = ["QualitySignal", "create_signal", "register_signal", "signal_names"]
