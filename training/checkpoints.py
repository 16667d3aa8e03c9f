"""Model folders and resumable checkpoints, always written atomically (temp folder + rename).

A model folder (see `training.families.base`) holds the family's files, `vlmfr_model.json`,
`weights.safetensors` (every trained non-LoRA weight) and `adapter/` (peft LoRA). A checkpoint is a model
folder plus `trainer_state.pt`: optimizer, scheduler, stage, step, RNG states and the loss log, so a
resumed run continues exactly where the interrupted one stopped (same weights at the end).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

META = "vlmfr_model.json"
WEIGHTS = "weights.safetensors"
ADAPTER = "adapter"
TRAINER_STATE = "trainer_state.pt"


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`); False where the
    system or filesystem cannot, and nothing moved."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def restore_interrupted(final: Path) -> None:
    """Undo a kill inside `atomic_dir`'s fallback swap. Without an atomic exchange, a folder cannot be
    renamed onto a non-empty one, so the swap takes two renames (old version aside, new one in); a kill
    between them leaves only the old version, as `.<name>.old-*`: it goes back in place. Leftover old
    versions beside a `final` go."""
    final = Path(final)
    olds = sorted(final.parent.glob(f".{final.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not final.exists():
        os.replace(olds.pop(), final)
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


def atomic_dir(final: Path, write: Any) -> Path:
    """`write(staging)` fills a fresh sibling folder, which then replaces `final` by rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    restore_interrupted(final)
    staging = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        write(staging)
        # replacing a folder: one atomic exchange where the system has it (a kill never finds `final`
        # missing; `staging` then holds the old version), else two renames (see restore_interrupted)
        if final.exists() and _exchange(staging, final):
            return final
        trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        if final.exists():
            os.replace(final, trash)
        os.replace(staging, final)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def trained_state(model: Any, names: set[str]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(non-LoRA trained weights, LoRA weights) among `names`, detached on CPU."""
    from training.methods import is_lora

    plain, lora = {}, {}
    for name, param in model.named_parameters():
        if name in names:
            (lora if is_lora(name) else plain)[name] = param.detach().to("cpu", torch.float32).contiguous()
    return plain, lora


def write_model(
    folder: Path,
    family: Any,
    model: Any,
    trained_names: set[str],
    meta: dict[str, Any],
    base_dir: Path | None,
) -> None:
    """Fill `folder` (a staging dir) with a loadable model; `base_dir` None = a complete model."""
    from safetensors.torch import save_file

    plain, lora = trained_state(model, trained_names)
    save_file(plain, str(folder / WEIGHTS))
    has_adapter = bool(lora)
    if has_adapter:
        (folder / ADAPTER).mkdir()
        model._vlmfr_lora_config.save_pretrained(str(folder / ADAPTER))  # noqa: SLF001
        # peft's adapter file format: keys without the adapter name ("lora_A.weight")
        save_file(
            {k.replace(".default", ""): v for k, v in lora.items()},
            str(folder / ADAPTER / "adapter_model.safetensors"),
        )
    extra = family.save(model, folder, plain)
    payload = {
        **meta,
        **extra,
        "family": family.name,
        "base": str(base_dir) if base_dir else None,
        "adapter": has_adapter,
    }
    payload["version"] = model_version(folder, payload)
    (folder / META).write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def model_version(folder: Path, payload: dict[str, Any]) -> str:
    """Hash of weights, adapter, config and the base model's version: changes whenever predictions can."""
    digest = hashlib.sha256()
    identity = {k: v for k, v in payload.items() if k not in ("version", "created_at", "seconds")}
    digest.update(json.dumps(identity, sort_keys=True, default=str).encode())
    for path in sorted(folder.rglob("*.safetensors")):
        digest.update(path.read_bytes())
    if payload.get("base"):
        digest.update(read_meta(Path(payload["base"])).get("version", "").encode())
    return digest.hexdigest()[:16]


def read_meta(folder: Path) -> dict[str, Any]:
    path = Path(folder) / META
    return json.loads(path.read_text()) if path.exists() else {}


def load_model(folder: Path, device: str = "cpu") -> tuple[Any, Any, dict[str, Any]]:
    """(family, model, meta) of a model folder: the base first, then the adapter, then trained weights."""
    from safetensors.torch import load_file

    from training.registry import FAMILIES

    folder = Path(folder)
    meta = read_meta(folder)
    if not meta:
        raise FileNotFoundError(f"{folder} is not a model folder (no {META})")
    family = FAMILIES.create(meta["family"])
    if meta.get("base"):
        _, model, _ = load_model(Path(meta["base"]), device)
    else:
        model = family.load(folder, meta)
    if meta.get("adapter"):
        load_adapter(family, model, folder / ADAPTER)
    weights = load_file(str(folder / WEIGHTS))
    if weights:
        missing = set(weights) - {n for n, _ in model.named_parameters()}
        if missing:
            raise KeyError(f"{folder}: weights for unknown parameters {sorted(missing)[:5]}")
        model.load_state_dict(weights, strict=False)
    if not meta.get("base"):
        absent = family.stored_weights(model) - set(weights)
        if absent:  # e.g. a folder written by an older model layout: never run half-initialised
            raise KeyError(f"{folder}: weights missing for {sorted(absent)[:5]} ({len(absent)} in all)")
    model.to(device)
    model.eval()
    return family, model, meta


def load_adapter(family: Any, model: Any, adapter_dir: Path) -> None:
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig.from_pretrained(str(adapter_dir))
    inject_adapter_in_model(config, model)
    model._vlmfr_lora_config = config  # noqa: SLF001
    load_adapter_weights(model, adapter_dir)


def load_adapter_weights(model: Any, adapter_dir: Path) -> None:
    """Adapter weights into a model whose LoRA layers are already injected."""
    from safetensors.torch import load_file

    state = load_file(str(Path(adapter_dir) / "adapter_model.safetensors"))
    own = {n for n, _ in model.named_parameters()}
    renamed = {}
    for key, value in state.items():
        name = key.replace(".lora_A.weight", ".lora_A.default.weight").replace(
            ".lora_B.weight", ".lora_B.default.weight"
        )
        if name not in own:
            raise KeyError(f"adapter weight {key!r} matches no parameter of the model")
        renamed[name] = value
    model.load_state_dict(renamed, strict=False)


# -------------------------------------------------------------------------------------- trainer state
def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    checkpoint_dir: Path,
    family: Any,
    model: Any,
    trained_names: set[str],
    meta: dict[str, Any],
    base_dir: Path | None,
    trainer: dict[str, Any],
) -> Path:
    """Atomically replace `checkpoint_dir` with the model so far plus the trainer state."""

    def write(staging: Path) -> None:
        write_model(staging, family, model, trained_names, meta, base_dir)
        torch.save(
            {**trainer, "rng": rng_state(), "trained_names": sorted(trained_names)}, staging / TRAINER_STATE
        )

    return atomic_dir(checkpoint_dir, write)


def load_trained_weights(model: Any, folder: Path) -> None:
    """The trained weights of a checkpoint (non-LoRA, then adapter) into a model with the same layout."""
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(Path(folder) / WEIGHTS)), strict=False)
    if (Path(folder) / ADAPTER).exists():
        load_adapter_weights(model, Path(folder) / ADAPTER)


def load_trainer_state(checkpoint_dir: Path) -> dict[str, Any] | None:
    restore_interrupted(Path(checkpoint_dir))
    path = Path(checkpoint_dir) / TRAINER_STATE
    if not path.exists():
        return None
    return torch.load(path, weights_only=False)
