"""Scale benchmark: synthetic LLaVA-style datasets of 10k / 100k / 1M samples through the data half.

    .venv/bin/python perf/scale.py --sizes 10000 100000           # default: 10k and 100k
    nice -n 10 .venv/bin/python perf/scale.py --sizes 1000000 --workdir /tmp/scale

Every stage runs in its own subprocess (this file with `--stage`), which reports its wall seconds and its
own peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`, so each number is that stage's peak including the
interpreter and its imports; `imports` is the floor every stage pays). Stages, in order:

    generate      the synthetic dataset (JSONL + a pool of 256 small PNGs); not platform work
    imports       a process that only imports the stages (the RSS / time floor of every stage)
    ingest        stages.ingest            -> samples, quarantine
    segment       stages.segment           -> segments, sample_segments, dataset_segments
    translate_pt  stages.translate with the PASS-THROUGH engine below (every distinct segment)
    apertium      Apertium on a SAMPLE of 2,000 distinct segments (translate_batch, no warehouse), its
                  per-segment cost extrapolated to all distinct segments: LABELLED "extrapolated"
    score         stages.score with lid_french, language_leakage, length_ratio, spans_intact,
                  source_copy, repetition, empty_output
    tier          stages.combine + stages.rebuild_french (translation_quality, french_samples)
    export        stages.export_corpus for every tier set (high, high+medium, high+medium+low)
    query1..5     five exploration queries through `vlmfr sql` (a fresh CLI process each)

The pass-through engine (`bench_wordmap`, registered in the stage subprocess only, never in the product's
registry) replaces each English word by a fixed French word from a 60-word table (unknown words pass
through): its own cost is a dict lookup per word, and `translate_segments` times the engine calls
(`engine_seconds`), so platform overhead = stage seconds - engine seconds (also minus process start-up:
the `imports` row). A pure identity engine would isolate the same overhead, but every translation would
then be gated `copy_of_source` and the tier and export stages would see zero kept samples; the word map
keeps them realistic at the cost of about a microsecond per word, which is measured and subtracted.

Synthetic data, built to repeat the way VQA / instruction data repeats (seeded, deterministic):
- each sample has one image (from a pool of 256 files) and 1 round (70%) or 2-3 rounds of human/gpt;
  the first human turn starts with `<image>\\n`;
- a human turn is, with p = 0.7, one of 3,000 templated questions drawn Zipf-like (rank k has weight
  1/k^1.1: the top question carries ~10% of all questions), else a unique question;
- a gpt turn is, with p = 0.45, one of 400 short answers ("Yes.", "Two.", colours, ...) drawn Zipf-like
  (1/k^1.2: "Yes." alone ~16% of those), else a unique sentence of 8-20 words from a 300-word vocabulary.
So distinct strings are about 40% of turns (a long tail of unique sentences, a head of frequent ones),
close to LLaVA-Instruct's mix of templated questions and free answers; easy-vqa is the extreme head case.

Goals at 1M: peak RSS < 2 GB per stage, time linear (growth <= 11 per 10x), each query < 1 s,
platform overhead per segment < 5% of Apertium's cost per segment.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
IMAGE_POOL = 256
APERTIUM_SAMPLE = 2000
SIGNALS = [
    "lid_french",
    "language_leakage",
    "length_ratio",
    "spans_intact",
    "source_copy",
    "repetition",
    "empty_output",
]
QUERIES = {
    "query1_segments_by_kind": "SELECT kind, count(*), sum(n_occurrences) FROM segments GROUP BY 1 ORDER BY 1",
    "query2_top_strings_fr": (
        "SELECT s.text_en, t.text_fr, s.n_occurrences FROM segments s JOIN translations t USING (segment_id) "
        "ORDER BY s.n_occurrences DESC LIMIT 20"
    ),
    "query3_mean_score_per_signal": "SELECT signal, count(*), avg(score) FROM quality_scores GROUP BY 1",
    "query4_tier_summary": "SELECT * FROM tier_summary",
    "query5_search_text": "SELECT count(*) FROM segments WHERE text_en ILIKE '%red car%'",
}

# --------------------------------------------------------------------------------- the generator
ADJ = [
    "red",
    "blue",
    "green",
    "yellow",
    "black",
    "white",
    "small",
    "large",
    "old",
    "young",
    "tall",
    "short",
    "bright",
    "dark",
    "wooden",
    "metal",
]
NOUN = [
    "man",
    "woman",
    "child",
    "dog",
    "cat",
    "car",
    "bus",
    "truck",
    "house",
    "tree",
    "table",
    "chair",
    "bottle",
    "cup",
    "plate",
    "phone",
    "laptop",
    "book",
    "bag",
    "horse",
    "bird",
    "street",
    "window",
    "door",
    "sign",
    "boat",
    "train",
    "bicycle",
    "kite",
    "ball",
    "umbrella",
    "pizza",
    "sandwich",
    "clock",
    "bench",
]
VERB = [
    "is",
    "standing",
    "sitting",
    "holding",
    "walking",
    "riding",
    "looking",
    "eating",
    "carrying",
    "playing",
    "lying",
    "waiting",
]
PREP = [
    "on",
    "under",
    "near",
    "behind",
    "beside",
    "in",
    "front",
    "of",
    "next",
    "to",
    "across",
    "inside",
    "above",
]
FILLER = [
    "the",
    "a",
    "an",
    "with",
    "and",
    "while",
    "there",
    "some",
    "two",
    "three",
    "several",
    "in",
    "of",
    "at",
    "by",
    "through",
    "beside",
    "its",
    "their",
    "this",
    "that",
    "which",
    "appears",
    "seems",
    "looking",
    "toward",
    "away",
    "from",
    "into",
    "over",
    "during",
    "after",
    "before",
]
VOCAB = ADJ + NOUN + VERB + PREP + FILLER
QUESTION_TEMPLATES = [
    "What color is the {a} {n}?",
    "Is there a {a} {n} in the image?",
    "What is the {n} {v}?",
    "Where is the {a} {n}?",
    "How many {n}s are there?",
    "What is {p} the {n}?",
    "Describe the {n} in this picture.",
    "Why is the {n} {v}?",
]
SHORT_ANSWERS = (
    ["Yes.", "No.", "One.", "Two.", "Three.", "Four.", "Five."]
    + [f"{a.capitalize()}." for a in ADJ]
    + [f"The {n}." for n in NOUN]
    + [f"It is {a}." for a in ADJ]
)


def _zipf_weights(n: int, s: float) -> Any:
    import numpy as np

    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def generate(root: Path, n_samples: int, seed: int = 0) -> Path:
    """Write `data.jsonl`, `images/`, `vlmfr.toml` under `root`; returns the config path."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(IMAGE_POOL):
        if not (images / f"{i}.png").exists():
            Image.new("RGB", (16, 16), (i % 256, (7 * i) % 256, 90)).save(images / f"{i}.png")
    head_q = [
        t.format(
            a=ADJ[(k * 7) % len(ADJ)],
            n=NOUN[(k * 13) % len(NOUN)],
            v=VERB[k % len(VERB)],
            p=PREP[k % len(PREP)],
        )
        + ("" if k < 400 else f" ({k})")  # templates x words give ~400 distinct; the rest differ by a tag
        for k, t in ((k, QUESTION_TEMPLATES[k % len(QUESTION_TEMPLATES)]) for k in range(3000))
    ]
    head_a = (SHORT_ANSWERS * (400 // len(SHORT_ANSWERS) + 1))[:400]
    head_a = [a if i < len(SHORT_ANSWERS) else f"{a[:-1]}, {i}." for i, a in enumerate(head_a)]
    q_weights, a_weights = _zipf_weights(len(head_q), 1.1), _zipf_weights(len(head_a), 1.2)
    vocab = np.array(VOCAB)

    def unique_sentence(words: int) -> str:
        body = " ".join(vocab[rng.integers(0, len(vocab), words)])
        return body[0].upper() + body[1:] + "."

    batch = 100_000
    with (root / "data.jsonl").open("w", encoding="utf-8") as out:
        for start in range(0, n_samples, batch):
            n = min(batch, n_samples - start)
            rounds = rng.choice([1, 2, 3], size=n, p=[0.7, 0.2, 0.1])
            total = int(rounds.sum())
            q_head = rng.random(total) < 0.7
            q_pick = rng.choice(len(head_q), size=total, p=q_weights)
            a_head = rng.random(total) < 0.45
            a_pick = rng.choice(len(head_a), size=total, p=a_weights)
            a_len = rng.integers(8, 21, size=total)
            t = 0
            lines = []
            for i in range(n):
                turns = []
                for r in range(int(rounds[i])):
                    q = head_q[q_pick[t]] if q_head[t] else unique_sentence(int(a_len[t]) // 2 + 3)[:-1] + "?"
                    a = head_a[a_pick[t]] if a_head[t] else unique_sentence(int(a_len[t]))
                    turns.append({"from": "human", "value": ("<image>\n" + q) if r == 0 else q})
                    turns.append({"from": "gpt", "value": a})
                    t += 1
                sample = start + i
                lines.append(
                    json.dumps(
                        {
                            "id": f"syn-{sample:07d}",
                            "image": f"{sample % IMAGE_POOL}.png",
                            "conversations": turns,
                        }
                    )
                )
            out.write("\n".join(lines) + "\n")
    config = root / "vlmfr.toml"
    signals = ", ".join(f"{s} = {{}}" for s in SIGNALS)
    config.write_text(
        f"""
[[datasets]]
name = "synthetic"
format = "llava"
paths = {{ json = "data.jsonl", image_root = "images" }}

[[mt_systems]]
name = "passthrough"
backend = "bench_wordmap"
batch_size = 5000

[[mt_systems]]
name = "apertium"
backend = "apertium"
batch_size = 5000

[quality]
signals = {{ {signals} }}
""",
        encoding="utf-8",
    )
    return config


# ----------------------------------------------------------------------- the pass-through engine
WORD_MAP = {
    "the": "le",
    "a": "un",
    "an": "un",
    "is": "est",
    "are": "sont",
    "there": "là",
    "what": "quel",
    "color": "couleur",
    "where": "où",
    "how": "combien",
    "many": "beaucoup",
    "why": "pourquoi",
    "in": "dans",
    "on": "sur",
    "under": "sous",
    "near": "près",
    "behind": "derrière",
    "with": "avec",
    "and": "et",
    "of": "de",
    "image": "image",
    "picture": "photo",
    "describe": "décrivez",
    "this": "cette",
    "yes": "oui",
    "no": "non",
    "one": "un",
    "two": "deux",
    "three": "trois",
    "four": "quatre",
    "five": "cinq",
    "red": "rouge",
    "blue": "bleu",
    "green": "vert",
    "yellow": "jaune",
    "black": "noir",
    "white": "blanc",
    "small": "petit",
    "large": "grand",
    "old": "vieux",
    "young": "jeune",
    "man": "homme",
    "woman": "femme",
    "child": "enfant",
    "dog": "chien",
    "cat": "chat",
    "car": "voiture",
    "house": "maison",
    "tree": "arbre",
    "table": "table",
    "chair": "chaise",
    "street": "rue",
    "window": "fenêtre",
    "door": "porte",
    "it": "il",
    "standing": "debout",
    "sitting": "assis",
    "holding": "tenant",
    "walking": "marchant",
}


class WordMapPassThrough:
    """Benchmark-only engine (never in the product's registry): word-for-word table lookup, so its own
    cost is negligible and measured (engine_seconds); everything else in the stage is the platform."""

    backend = "bench_wordmap"
    source_lang, target_lang = "en", "fr"
    masked_kinds = frozenset({"special", "url", "email", "entity", "code", "placeholder"})
    sentinel = "XQZ{}"
    cost_per_call = 0.0
    version = "wordmap-1"

    def __init__(self, name: str) -> None:
        self.name = name

    def availability(self) -> Any:
        from vlmfr_data.registry import Availability

        return Availability(True)

    def translate(self, texts: list[str]) -> list[str]:
        get = WORD_MAP.get
        return [" ".join(get(w.lower(), w) for w in t.split(" ")) for t in texts]


# ------------------------------------------------------------------------------- stage runner
def run_stage(stage: str, home: Path, config_path: Path) -> dict[str, Any]:
    """Runs in the stage's own process; returns what the parent prints."""
    from vlmfr_data import stages
    from vlmfr_data.config import load_config
    from vlmfr_data.mt import BACKENDS
    from vlmfr_data.store import Warehouse
    from vlmfr_data.tiers import TIER_SETS

    BACKENDS.register("bench_wordmap", WordMapPassThrough)  # this process only
    warehouse, config = Warehouse(home), load_config(config_path)
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    if stage == "imports":
        import vlmfr_data.corpora  # noqa: F401
        import vlmfr_data.mt.run  # noqa: F401
        import vlmfr_data.quality.scoring  # noqa: F401
    elif stage == "ingest":
        values = stages.ingest(warehouse, config, "synthetic").values
        extra = {k: v for k, v in values.items() if k not in ("per_split", "quarantine_reasons")}
    elif stage == "segment":
        extra = stages.segment(warehouse, config).values
    elif stage == "translate_pt":
        from vlmfr_data.mt import create_system
        from vlmfr_data.mt.run import translate_segments

        system = create_system(config.mt_system("passthrough"))
        result = translate_segments(warehouse, system, batch_size=config.mt_system("passthrough").batch_size)
        segments = result.translated + result.failed
        extra = {
            "segments": segments,
            "engine_seconds": round(result.engine_seconds, 2),
            "platform_us_per_segment": round(
                1e6 * (result.seconds - result.engine_seconds) / max(segments, 1), 1
            ),
            # the whole stage's CPU (its fixed costs too) minus the engine's, per segment
            "platform_cpu_us_per_segment": round(
                1e6 * (_cpu_seconds() - cpu_started - result.engine_seconds) / max(segments, 1), 1
            ),
        }
    elif stage == "apertium":
        from vlmfr_data.mt import create_system
        from vlmfr_data.mt.run import translate_batch

        system = create_system(config.mt_system("apertium"))
        if not system.availability().ok:
            return {"error": str(system.availability())}
        segments = warehouse.read("segments")
        sample = segments.sample(min(APERTIUM_SAMPLE, segments.height), seed=0)
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        rows = translate_batch(system, sample.select("segment_id", "text_en", "protected_spans"))
        close = getattr(system, "close", None)
        if close:  # ends (and waits for) the Apertium processes, so their CPU is counted
            close()
        sample_seconds, sample_cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
        per_segment = sample_seconds / sample.height
        extra = {
            "sample": sample.height,
            "errors": rows["error"].drop_nulls().len(),
            "ms_per_segment": round(1e3 * per_segment, 3),
            "cpu_ms_per_segment": round(1e3 * sample_cpu / sample.height, 3),
            "extrapolated_seconds_all_segments": round(per_segment * segments.height, 1),
        }
    elif stage == "score":
        extra = {"pairs": stages.score(warehouse, config).values["pairs"]}
    elif stage == "tier":
        stages.combine(warehouse, config)
        extra = stages.rebuild_french(warehouse, config).values
    elif stage == "export":
        extra = {t: stages.export_corpus(warehouse, config, t).values["samples"] for t in TIER_SETS}
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = _cpu_seconds() - cpu_started
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak_mb),
        **extra,
    }


def _cpu_seconds() -> float:
    """User + system CPU of this process and its waited children (Apertium's pipeline processes): on a
    shared CPU the wall clock also counts other people's work, CPU time does not."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _subprocess_stage(stage: str, home: Path, config: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "VLMFR_HOME": str(home),
        "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "2"),
    }
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", stage, "--home", str(home), "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": proc.stderr[-1500:], "process_seconds": round(wall, 2)}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(wall, 2)
    return result


def _query(name: str, sql: str, home: Path) -> dict[str, Any]:
    """One exploration query through the `vlmfr sql` CLI (a fresh process: what a user waits for)."""
    vlmfr = Path(sys.executable).with_name("vlmfr")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [str(vlmfr), "sql", sql], capture_output=True, text=True, env={**os.environ, "VLMFR_HOME": str(home)}
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if proc.returncode != 0:
        return {"error": proc.stderr[-800:], "seconds": round(wall, 2)}
    # the CLI's own peak RSS is not separable from earlier children here: not reported
    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": None}


STAGES = ["imports", "ingest", "segment", "translate_pt", "apertium", "score", "tier", "export"]


def benchmark(sizes: list[int], workdir: Path, out: Path | None) -> dict[int, dict[str, dict[str, Any]]]:
    results: dict[int, dict[str, dict[str, Any]]] = {}
    for size in sizes:
        root = workdir / f"n{size}"
        home = root / "home"
        if home.exists():
            import shutil

            shutil.rmtree(home)
        root.mkdir(parents=True, exist_ok=True)
        rows: dict[str, dict[str, Any]] = {}
        started = time.perf_counter()
        config = generate(root, size)
        rows["generate"] = {"seconds": round(time.perf_counter() - started, 2), "peak_rss_mb": None}
        for stage in STAGES:
            rows[stage] = _subprocess_stage(stage, home, config)
            print(f"n={size:>9,} {stage:<14} {json.dumps(rows[stage])}", flush=True)
        for name, sql in QUERIES.items():
            rows[name] = _query(name, sql, home)
            print(f"n={size:>9,} {name:<14} {json.dumps(rows[name])}", flush=True)
        results[size] = rows
        if out:
            out.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    print_table(results)
    return results


def print_table(results: dict[int, dict[str, dict[str, Any]]]) -> None:
    """Per stage and size: wall seconds, CPU seconds, peak RSS; then the growth per size step (wall and
    CPU; the CPU ratio is the one to trust on a shared machine)."""
    sizes = sorted(results)
    names = list(results[sizes[0]])
    head = f"{'stage':<30}" + "".join(f"{f'{s:,}: wall s':>16}{'cpu s':>9}{'RSS MB':>8}" for s in sizes)
    steps = list(zip(sizes, sizes[1:], strict=False))
    head += "".join(f"{f'growth x{b // a} wall/cpu':>24}" for a, b in steps)
    print("\n" + head)
    for name in names:
        line = f"{name:<30}"
        for s in sizes:
            row = results[s].get(name, {})
            rss, cpu = row.get("peak_rss_mb"), row.get("cpu_seconds")
            line += f"{row.get('seconds', float('nan')):>16}{'' if cpu is None else cpu:>9}{'' if rss is None else rss:>8}"
        for a, b in steps:
            ra, rb = results[a].get(name, {}), results[b].get(name, {})
            ratios = [
                f"{rb[k] / ra[k]:.1f}" if ra.get(k) and rb.get(k) else "-" for k in ("seconds", "cpu_seconds")
            ]
            line += f"{' / '.join(ratios):>24}"
        print(line)


def main() -> None:
    assert __doc__ is not None  # the module has a docstring
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vlmfr-scale"))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--queries-only", action="store_true", help="re-time the queries on existing homes")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.stage, args.home, args.config)))
        return
    if args.queries_only:
        for size in args.sizes:
            for name, sql in QUERIES.items():
                print(
                    f"n={size:>9,} {name:<30} {json.dumps(_query(name, sql, args.workdir / f'n{size}' / 'home'))}"
                )
        return
    benchmark(args.sizes, args.workdir, args.out)


if __name__ == "__main__":
    main()
