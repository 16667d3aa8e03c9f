"""The `[quality]` configuration; it lives with the project config (`vlmfr_data.config`), which parses
it once when the config loads."""

from vlmfr_data.config import QualityConfig

__all__ = ["QualityConfig"]
