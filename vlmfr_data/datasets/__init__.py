"""Dataset formats: one module per format, registered (lazily) in `base.FORMATS`."""

from vlmfr_data.datasets.base import FORMATS, DatasetFormat, RawBatch

__all__ = ["FORMATS", "DatasetFormat", "RawBatch"]
