"""Dataset formats. Importing this package registers every built-in format."""

from vlmfr_data.datasets import coco_captions, easy_vqa, llava, vqav2  # noqa: F401  (registration)
from vlmfr_data.datasets.base import DatasetFormat, RawBatch, format_names, get_format, register_format

__all__ = ["DatasetFormat", "RawBatch", "format_names", "get_format", "register_format"]
