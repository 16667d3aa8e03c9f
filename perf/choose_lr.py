"""Choose a learning rate on the dev split (never the test split): French fine-tuning, or the English VLM.

Trains `--method` on corpus `--tier-set` from the warehouse's English VLM with each learning rate and
seed, the demo recipe otherwise, each run kept at its best dev step, and prints the dev accuracy per
learning rate (mean over seeds). With `--english`, trains the English VLM itself (stage 0, `[training]
english` otherwise, `--epochs` if given) and scores it on the whole English dev split. Models go to a
scratch folder; nothing is written to the tier models or the English VLM.

    VLMFR_HOME=.vlmfr .venv/bin/python perf/choose_lr.py --tier-set high+medium --lrs 1e-3 2e-3 4e-3
    VLMFR_HOME=.vlmfr .venv/bin/python perf/choose_lr.py --english --lrs 7e-4 1e-3 2e-3 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def main() -> None:
    assert __doc__ is not None  # the module has a docstring
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier-set", default="high+medium")
    parser.add_argument("--method", default="lora")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 2e-3, 4e-3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--english", action="store_true", help="the English VLM (stage 0) instead")
    parser.add_argument(
        "--epochs", type=float, default=None, help="--english: epochs (default: the config's)"
    )
    args = parser.parse_args()
    if args.english:
        return choose_english(args.lrs, args.seeds, args.epochs)

    from evaluation.dev import FRENCH_DEV, dev_set
    from training.config import training_settings
    from training.train import finetune_config, train_on_corpus
    from vlmfr_data.config import load_config
    from vlmfr_data.corpora import corpora_dir
    from vlmfr_data.store import Warehouse

    warehouse = Warehouse()
    settings = training_settings(load_config())
    dev = dev_set(warehouse, FRENCH_DEV, load_config().evaluation.dev_items)
    if dev is None:
        raise SystemExit("no dev samples in this warehouse: run `make demo` first")
    corpus = corpora_dir(warehouse) / args.tier_set
    scratch = Path(tempfile.mkdtemp(prefix="choose_lr_"))
    results: dict[float, list[float]] = {}
    for lr in args.lrs:
        method = settings.method(args.method)
        method = replace(method, **{k: lr for k in ("lr_lora", "lr_new_tokens", "lr_projector", "lr_language")
                                    if getattr(method, k)})  # fmt: skip
        for seed in args.seeds:
            started = time.perf_counter()
            report = train_on_corpus(
                warehouse,
                corpus,
                method=args.method,
                out_dir=scratch / f"lr{lr:g}_seed{seed}",
                config=finetune_config(settings, seed=seed),
                method_config=method,
                model_name=f"choose_lr:{args.tier_set}__{args.method}__lr{lr:g}__seed{seed}",
                dev=dev,
            )
            results.setdefault(lr, []).append(float(report.dev_accuracy or 0.0))
            print(json.dumps({"lr": lr, "seed": seed, "dev_accuracy": report.dev_accuracy,
                              "selected_step": report.selected_step,
                              "seconds": round(time.perf_counter() - started, 1)}), flush=True)  # fmt: skip
    print("lr, mean dev accuracy over seeds (per seed)")
    for lr, values in results.items():
        print(f"{lr:g}\t{statistics.fmean(values):.3f}\t{values}")


def choose_english(lrs: list[float], seeds: list[int], epochs: float | None) -> None:
    from evaluation.dev import ENGLISH_DEV, dev_set
    from evaluation.pipeline import load_model
    from training.config import training_settings
    from training.train import train_english_vlm
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse

    warehouse = Warehouse()
    project = load_config()
    settings = training_settings(project)
    evaluation = project.evaluation
    chosen_on = dev_set(warehouse, ENGLISH_DEV, evaluation.dev_items, evaluation.english_dev_every)
    scored_on = dev_set(warehouse, ENGLISH_DEV, limit=0)  # every dev item
    if chosen_on is None or scored_on is None:
        raise SystemExit("no dev samples in this warehouse: run `make demo` first")
    scratch = Path(tempfile.mkdtemp(prefix="choose_english_lr_"))
    results: dict[float, list[float]] = {}
    for lr in lrs:
        for seed in seeds:
            train = replace(settings.english, lr=lr, seed=seed, epochs=epochs or settings.english.epochs)
            started = time.perf_counter()
            out = scratch / f"lr{lr:g}_seed{seed}"
            report = train_english_vlm(warehouse, settings, out_dir=out, train=train, dev=chosen_on)
            accuracy = scored_on.score(
                load_model(out, warehouse).answer(scored_on.images, scored_on.questions)
            )
            results.setdefault(lr, []).append(accuracy)
            print(json.dumps({"lr": lr, "seed": seed, "epochs": train.epochs, "dev_accuracy": round(accuracy, 4),
                              "dev_items": len(scored_on.item_ids), "selected_step": report.selected_step,
                              "seconds": round(time.perf_counter() - started, 1)}), flush=True)  # fmt: skip
    print(f"lr, mean accuracy on all {len(scored_on.item_ids)} English dev items over seeds (per seed)")
    for lr, values in results.items():
        print(f"{lr:g}\t{statistics.fmean(values):.4f}\t{[round(v, 4) for v in values]}")


if __name__ == "__main__":
    main()
