"""Shared by the Hugging Face backends: find a model locally (path or cache, never the Hub), fingerprint it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from vlmfr_data.registry import Availability

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


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


def fingerprint(path: Path) -> str:
    """Cheap, stable identity of a model folder or file: config text + weight file names and sizes."""
    digest = hashlib.sha1()
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    for f in files:
        if f.name == "config.json":
            digest.update(f.read_bytes())
        elif f.suffix in WEIGHT_SUFFIXES:
            digest.update(f"{f.name}:{f.stat().st_size}".encode())
    return digest.hexdigest()[:10]


def set_threads(threads: int | None) -> None:
    torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
