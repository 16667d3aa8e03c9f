"""Import every module that registers a warehouse table, so views cover all of them."""

from vlmfr_data import ingest, segments  # noqa: F401  (registration side effects)
from vlmfr_data.mt import run  # noqa: F401
from vlmfr_data.quality import gold, scoring, tiers  # noqa: F401
