"""End-to-end MT throughput of the pipeline vs the raw engine on the same text.

    .venv/bin/python benchmarks/mt_throughput.py --system apertium --n 5000

Pipeline = `translate_segments` into a fresh warehouse (pending lookup, span masking/restoring, Parquet
appends per batch). Raw = for Apertium the bare CLI (`apertium -u eng-spa FILE | apertium -u es-fr`) on
the same sentences in one file; for other systems `system.translate` on the same batches. Prints both
rates and their ratio (pipeline / raw; goal >= 0.95).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import tempfile
import time
from pathlib import Path

from vlmfr_data import tables  # noqa: F401
from vlmfr_data.config import load_config
from vlmfr_data.mt import create_system
from vlmfr_data.mt.run import translate_segments
from vlmfr_data.segments import segments_from_texts
from vlmfr_data.store import Warehouse

SUBJECTS = [
    "the red circle",
    "a small blue square",
    "the green triangle",
    "the old man",
    "a young woman",
    "the black dog",
    "a white cat",
    "the yellow car",
    "two children",
    "the tall building",
    "a brown bird",
    "the teacher",
    "a red bicycle",
    "the little girl",
    "an orange boat",
    "the gray horse",
    "a happy family",
    "the wooden chair",
    "a large truck",
    "the blue umbrella",
]
VERBS = ["is next to", "is behind", "is above", "is looking at", "is far from", "is near"]
OBJECTS = [
    "the window",
    "a wooden table",
    "the river",
    "a large tree",
    "the door",
    "a bright lamp",
    "the mountain",
    "a brown horse",
    "the bridge",
    "a busy street",
    "the old church",
    "a green field",
    "the red house",
    "a small lake",
    "the train station",
    "a white wall",
    "the market",
    "a tall fence",
    "the beach",
    "a quiet garden",
]
TAILS = [
    "",
    " in the picture",
    " in the morning",
    " at night",
    " during the rain",
    " on the left side",
    " in the middle of the image",
    " near the center",
]


def sentences(n: int) -> list[str]:
    """n distinct, grammatical English sentences (a small grammar: 19,200 statements, then questions)."""
    combos = itertools.product(TAILS, OBJECTS, VERBS, SUBJECTS)
    out = [f"{s[0].upper()}{s[1:]} {v} {o}{t}." for t, o, v, s in itertools.islice(combos, n)]
    if len(out) < n:  # beyond the grammar: questions about the same scenes
        out += [f"Is {s[:-1].lower()}?" for s in out[: n - len(out)]]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--system", default="apertium", help="a configured MT system name")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--lowercase",
        action="store_true",
        help="lower-case sentences (as easy-vqa): Apertium then runs its pivot-case filter between stages",
    )
    args = parser.parse_args()
    system_config = load_config().mt_system(args.system)
    batch_size = args.batch_size or system_config.batch_size
    system = create_system(system_config)
    if not system.availability().ok:
        print(f"{args.system}: {system.availability()}")
        return 1
    texts = [t.lower() for t in sentences(args.n)] if args.lowercase else sentences(args.n)
    segments = segments_from_texts(texts)
    with tempfile.TemporaryDirectory() as tmp:
        if system.backend == "apertium":
            source = Path(tmp) / "source.txt"
            source.write_text("\n".join(segments["text_en"]) + "\n")
            started = time.perf_counter()
            # the group matters: `a | b < file` would feed the file to b and nothing to a
            subprocess.run(
                ["bash", "-o", "pipefail", "-c", f"({system.command()}) < {source} > {tmp}/raw.txt"],
                check=True,
            )
            raw_seconds = time.perf_counter() - started
            raw_lines = (Path(tmp) / "raw.txt").read_text().count("\n")
            if raw_lines != segments.height:
                raise SystemExit(f"raw CLI produced {raw_lines} lines for {segments.height} segments")
            raw_label = f"bare CLI `{system.command()}`"
        else:
            started = time.perf_counter()
            for i in range(0, segments.height, batch_size):
                system.translate(segments["text_en"][i : i + batch_size].to_list())
            raw_seconds = time.perf_counter() - started
            raw_label = f"{system.backend}.translate in batches of {batch_size}"
        report = translate_segments(Warehouse(Path(tmp) / "home"), system, segments, batch_size=batch_size)
    n = segments.height
    raw_rate, pipe_rate = n / raw_seconds, n / report.seconds
    print(f"system   {system.name} ({system.version})")
    print(f"segments {n}, batch size {batch_size}, {report.batches} batches, {report.failed} failed")
    print(f"raw      {raw_rate:8.1f} segments/s  ({raw_seconds:.2f}s, {raw_label})")
    print(f"pipeline {pipe_rate:8.1f} segments/s  ({report.seconds:.2f}s, translate_segments -> Parquet)")
    print(f"ratio    {pipe_rate / raw_rate:.3f}  (pipeline / raw; goal >= 0.95)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
