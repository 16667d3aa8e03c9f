"""Shared by the Hugging Face backends: find a model locally (path or cache, never the Hub), fingerprint it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from vlmfr_data.model_files import fingerprint, model_cache_dir
from vlmfr_data.registry import Availability

__all__ = [
    "fingerprint",
    "load_tokenizer",
    "local_availability",
    "model_cache_dir",
    "resolve_local",
    "set_threads",
]


def resolve_local(model: str) -> tuple[Path | None, str]:
    """A model given as a local directory, or a Hub id already in the local HF cache. Never downloads."""
    path = Path(model).expanduser()
    if path.exists():
        return path, ""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True)), ""
    except Exception:  # noqa: BLE001 - any failure means "not available locally"
        return None, (
            f"model {model!r} is neither a local path nor in the Hugging Face cache; the Hub is not reachable "
            "here, so download it elsewhere (`huggingface-cli download ...`) and point `model` at the folder"
        )


def local_availability(model: str) -> Availability:
    path, reason = resolve_local(model)
    if path is None:
        return Availability(False, reason)
    if path.is_dir() and not (path / "config.json").exists() and not any(path.glob("*.gguf")):
        return Availability(False, f"{path} has no config.json (not a transformers model folder)")
    return Availability(True)


def load_tokenizer(path: Path | str, **options: Any) -> Any:
    """`AutoTokenizer.from_pretrained` from local files, without transformers' false Mistral alarm.

    transformers 4.57.3-4.57.x warns "The tokenizer you are loading ... with an incorrect regex pattern"
    for every local tokenizer with over 100,000 tokens and a pre-tokenizer whose folder was saved by
    those versions: Gemma (our converted GGUF), NLLB, M2M100. Its check cannot tell a Mistral
    tokenizer from another one, and the regex patch it proposes is for Mistral's only. Passing
    `fix_mistral_regex=False` says "not a Mistral tokenizer": the warning goes, tokenization is
    unchanged (tested on Gemma-3-270M: identical ids).
    """
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True, fix_mistral_regex=False, **options)


def set_threads(threads: int | None) -> None:
    """`threads`, else `OMP_NUM_THREADS` (the demo's parallel workers set 1), else every core."""
    torch.set_num_threads(
        threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or max(1, os.cpu_count() or 1)
    )
