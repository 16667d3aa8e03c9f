"""End-to-end MT throughput of the pipeline vs the raw engine on the same text.

    .venv/bin/python perf/mt_throughput.py --system apertium --n 5000

Pipeline = `translate_segments` into a fresh warehouse (pending lookup, span masking/restoring, Parquet
appends per batch). Raw = for Apertium the bare CLI (`apertium -u eng-spa FILE | apertium -u es-fr`) on
the same sentences in one file; for other systems `system.translate` on the same batches. Prints both
rates and their ratio (pipeline / raw; goal >= 0.95). `--repeat N` alternates raw and pipeline runs N
times (a fresh system each run, so the pipeline pays its engine start-up once, as the CLI does) and
prints every ratio: on a shared CPU, neighbouring runs are the fair comparison. CPU seconds (this
process and its engine processes) are printed beside: they move less than wall time under contention.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from vlmfr_data.config import load_config
from vlmfr_data.mt import MTSystem, create_system
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


def cpu_seconds() -> tuple[float, float]:
    """CPU time of (this process, its reaped children): steadier than wall time on a shared CPU."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_raw(system: MTSystem, texts: list[str], batch_size: int, tmp: Path) -> tuple[float, str]:
    """Seconds for the bare engine on the same texts, and what ran."""
    if system.backend == "apertium":
        source = tmp / "source.txt"
        source.write_text("\n".join(texts) + "\n")
        command = system.command()  # type: ignore[attr-defined]
        started = time.perf_counter()
        # the group matters: `a | b < file` would feed the file to b and nothing to a
        subprocess.run(
            ["bash", "-o", "pipefail", "-c", f"({command}) < {source} > {tmp}/raw.txt"], check=True
        )
        seconds = time.perf_counter() - started
        raw_lines = (tmp / "raw.txt").read_text().count("\n")
        if raw_lines != len(texts):
            raise SystemExit(f"raw CLI produced {raw_lines} lines for {len(texts)} segments")
        return seconds, f"bare CLI `{command}`"
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        system.translate(texts[i : i + batch_size])
    return time.perf_counter() - started, f"{system.backend}.translate in batches of {batch_size}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--system", default="apertium", help="a configured MT system name")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="alternate raw and pipeline runs this many times (the CPU may be shared: compare neighbours)",
    )
    parser.add_argument(
        "--lowercase",
        action="store_true",
        help="lower-case sentences (as easy-vqa): Apertium then lowers the pivot's initials between stages",
    )
    args = parser.parse_args()
    system_config = load_config().mt_system(args.system)
    batch_size = args.batch_size or system_config.batch_size
    probe = create_system(system_config)
    if not probe.availability().ok:
        print(f"{args.system}: {probe.availability()}")
        return 1
    texts = [t.lower() for t in sentences(args.n)] if args.lowercase else sentences(args.n)
    segments = segments_from_texts(texts)
    n = segments.height
    print(f"system   {probe.name} ({probe.version})")
    print(f"segments {n}, batch size {batch_size}, {args.repeat} alternating run(s)")
    # One-time process costs are not throughput: the first `translate_segments` imports what DuckDB's
    # Arrow hand-off needs (pyarrow, pandas: 3-7 s here when their bytecode is not cached). Warm up
    # on one segment with a throwaway system, so run 1 compares like runs 2..N.
    with tempfile.TemporaryDirectory() as tmp:
        warm = create_system(system_config)
        translate_segments(Warehouse(Path(tmp)), warm, segments_from_texts(["Warm up."]), batch_size=1)
        close = getattr(warm, "close", None)  # only some engines hold processes to close
        if close is not None:
            close()
    ratios = []
    for run in range(1, args.repeat + 1):
        # a fresh system per run: the pipeline pays its engine start-up once, as the bare CLI does
        system = create_system(system_config)
        with tempfile.TemporaryDirectory() as tmp:
            before = cpu_seconds()
            raw_seconds, raw_label = run_raw(system, segments["text_en"].to_list(), batch_size, Path(tmp))
            after = cpu_seconds()
            raw_cpu = sum(after) - sum(before)
            before = after
            home = Warehouse(Path(tmp) / "home")
            report = translate_segments(home, system, segments, batch_size=batch_size)
            close = getattr(system, "close", None)
            if close is not None:
                close()  # reaps the engine processes, so their CPU time is counted
            after = cpu_seconds()
            pipe_own, pipe_engines = after[0] - before[0], after[1] - before[1]
            pipe_cpu = pipe_own + pipe_engines
        raw_rate, pipe_rate = n / raw_seconds, n / report.seconds
        ratios.append(pipe_rate / raw_rate)
        print(
            f"run {run}: raw {raw_rate:7.1f} seg/s ({raw_seconds:.2f}s, {raw_label}); pipeline {pipe_rate:7.1f} "
            f"seg/s ({report.seconds:.2f}s, {report.batches} batches, {report.failed} failed); "
            f"ratio {ratios[-1]:.3f}; CPU seconds raw {raw_cpu:.1f}, pipeline {pipe_cpu:.1f} "
            f"(Python {pipe_own:.1f} + engines {pipe_engines:.1f}; raw / pipeline {raw_cpu / pipe_cpu:.3f})"
        )
    print(
        f"ratio    pipeline / raw over {len(ratios)} run(s): {', '.join(f'{r:.3f}' for r in ratios)} "
        f"(min {min(ratios):.3f}, median {statistics.median(ratios):.3f}; goal >= 0.95)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
