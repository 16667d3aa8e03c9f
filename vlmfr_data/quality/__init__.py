"""Quality signals: one module per signal, registered (lazily) in `base.SIGNALS`."""

from vlmfr_data.quality.base import SIGNALS, QualitySignal

__all__ = ["SIGNALS", "QualitySignal"]
