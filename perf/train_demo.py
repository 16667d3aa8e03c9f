"""The training part of `make demo`, timed: stage 0 then every demo (tier set, method) run, one process.

    VLMFR_HOME=/tmp/me/home .venv/bin/python perf/train_demo.py [--english-only]

Needs the data half in that home (samples + corpora). Prints per run: final loss, wall and CPU seconds,
tokens/s, and the totals. Wall time depends on what else runs on the machine; CPU seconds do not.
"""

from __future__ import annotations

import argparse
import json
import logging
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--english-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from training.config import training_settings
    from training.registry import METHODS
    from training.train import train_english_vlm, train_tier_model
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse
    from vlmfr_data.tiers import TIER_SETS

    warehouse = Warehouse()
    settings = training_settings(load_config())
    wall, cpu = time.perf_counter(), time.process_time()
    runs = [("english", "pretrain")]
    if not args.english_only:
        runs += [(t, m) for t in TIER_SETS for m in METHODS.names() if settings.once_methods.get(m, t) == t]
    for tier_set, method in runs:
        t0, c0 = time.perf_counter(), time.process_time()
        if method == "pretrain":
            report = train_english_vlm(warehouse, settings)
        else:
            report = train_tier_model(warehouse, tier_set, method, settings)
        row = {
            "model": report.model,
            "final_loss": report.final_loss,
            "steps": report.steps,
            "tokens_per_s": report.tokens_per_s,
            "reused_from": report.reused_from,
            "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(time.process_time() - c0, 1),
        }
        print(json.dumps(row), flush=True)
    print(f"total: wall {time.perf_counter() - wall:.0f}s, cpu {time.process_time() - cpu:.0f}s")


if __name__ == "__main__":
    main()
