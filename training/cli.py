"""`vlmfr train`: the English VLM (stage 0) or one (tier set, method) model, through the same library
functions the Dagster assets call.

    vlmfr train --english                       # stage 0 (models/english_vlm)
    vlmfr train --tier high --method lora       # trains the English VLM first if it is missing
    vlmfr train --tier high+medium --method two_stage --steps 50
    vlmfr train --corpus /path/to/corpus --method full --out /tmp/model
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train the English VLM or a tier model (LoRA, two-stage, full, QE)"
    )
    p.add_argument("--english", action="store_true", help="train (or reuse) the English VLM only")
    p.add_argument("--tier", help="tier set: high, high+medium, high+medium+low")
    p.add_argument("--corpus", help="any corpus folder (samples.parquet) instead of a tier set")
    p.add_argument("--method", default="lora", help="lora | two_stage | full | qe_weighted")
    p.add_argument("--steps", type=int, help="stop after N steps (default: the configured recipe)")
    p.add_argument("--recipe", choices=["demo", "full"], help="override [training] recipe")
    p.add_argument("--out", help="model folder for --corpus (default: models/runs/<run id>)")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training.config import training_settings
    from training.train import english_vlm_dir, train_english_vlm, train_on_corpus, train_tier_model
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse

    settings = training_settings(load_config())
    if args.recipe:
        settings = settings.with_recipe(args.recipe)
    warehouse = Warehouse()
    english = train_english_vlm(warehouse, settings)
    print(f"english VLM: {english.model_dir} (final loss {english.final_loss:.4f}, {english.seconds:.0f}s)")
    if args.english:
        return 0
    if args.corpus:
        train = settings.finetune if args.steps is None else replace(settings.finetune, max_steps=args.steps)
        report = train_on_corpus(
            warehouse,
            Path(args.corpus),
            method=args.method,
            base_model_dir=english_vlm_dir(warehouse),
            out_dir=Path(args.out) if args.out else None,
            config=train,
            method_config=settings.method(args.method),
        )
    elif args.tier:
        report = train_tier_model(warehouse, args.tier, args.method, settings, steps=args.steps)
    else:
        print("give --tier, --corpus or --english")
        return 2
    print(
        f"{report.model}: {report.steps} steps, {report.samples} samples, final loss {report.final_loss:.4f}, "
        f"{report.seconds:.0f}s, {report.tokens_per_s:,.0f} tokens/s -> {report.model_dir}"
    )
    return 0
