"""The pipeline's stages as library functions: one per asset, each doing the whole step and returning a
`StageReport` (numbers, small preview frames, paths) that a Dagster asset hands over as metadata.

From a notebook, the whole data half is:

    from vlmfr_data import stages
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse

    warehouse, config = Warehouse(), load_config()
    for dataset in config.datasets:
        stages.ingest(warehouse, config, dataset.name)
    stages.segment(warehouse, config)
    for system in config.mt_systems:
        stages.translate(warehouse, config, system.name)
    stages.score(warehouse, config)
    stages.combine(warehouse, config)
    stages.rebuild_french(warehouse, config)
    stages.evaluate_gold(warehouse, config)
    for tier_set in CORPUS_NAMES:
        stages.export_corpus(warehouse, config, tier_set)
    stages.report(warehouse, config)

Imports of heavy modules (MT engines, sacrebleu, matplotlib) happen inside the stage that needs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import polars as pl

from vlmfr_data.config import ProjectConfig
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.stage import Log, Stage, StageReport
from vlmfr_data.store import Warehouse


def _quality(config: ProjectConfig) -> QualityConfig:
    """The quality config, with what some signals need to know of the MT systems filled in (options the
    user set win)."""
    quality = config.quality
    systems = config.mt_systems

    def producers() -> dict[str, dict[str, Any]]:
        from vlmfr_data.mt import create_system  # building a system is cheap: engines load on first use

        return {
            s.name: {"backend": s.backend, "modes": getattr(create_system(s), "modes", None)} for s in systems
        }

    derived: dict[str, Callable[[], dict[str, Any]]] = {
        # which engine each system runs on: agreement and back-translation across engines
        "consensus": lambda: {"backends": {s.name: s.backend for s in systems}},
        "round_trip_chrf": lambda: {"producers": producers()},
        # an LM's own translations are the likeliest text to it: the signal skips them
        "translation_likelihood": lambda: {"models": {s.name: s.options.get("model") for s in systems}},
    }
    for name, options in derived.items():
        if name in quality.signals:
            quality.signals[name] = {**options(), **quality.signals[name]}
    return quality


def _say(log: Log | None, text: str) -> None:
    if log is not None:
        log(text)


# --------------------------------------------------------------------------------------------- ingest
def ingest(warehouse: Warehouse, config: ProjectConfig, dataset: str, log: Log | None = None) -> StageReport:
    """`samples` and `quarantine` of one configured dataset (a partition of each)."""
    from vlmfr_data.ingest import ingest_dataset

    result = ingest_dataset(warehouse, config.dataset(dataset))
    _say(log, f"{dataset}: {result.samples} samples, {result.quarantined} records quarantined")
    quoted = dataset.replace("'", "''")
    return StageReport(
        "ingest",
        values={
            "samples": result.samples,
            "turns": result.turns,
            "quarantined_records": result.quarantined,
            "per_split": result.per_split,
            "quarantine_reasons": result.reasons,
        },
        tables={
            "preview": warehouse.sql(
                f"SELECT split, sample_id, image, turns FROM samples WHERE dataset = '{quoted}' LIMIT 5"
            ),
            "quarantine_preview": warehouse.sql(
                f"SELECT * FROM quarantine WHERE dataset = '{quoted}' LIMIT 10"
            ),
        },
        seconds=result.seconds,
        per_asset={"quarantine": {"quarantined_records": result.quarantined}},
    )


# ------------------------------------------------------------------------------------------- segments
def segment(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`sample_segments` and `dataset_segments` per ingested dataset, then `segments` across them."""
    from vlmfr_data.segments import build_sample_segments, build_segment_contexts, build_segments

    started = time.perf_counter()
    datasets = [d.name for d in config.datasets if warehouse.has_partition("samples", d.name)]
    reports = [build_sample_segments(warehouse, name) for name in datasets]
    table = build_segments(warehouse, datasets)
    contexts = build_segment_contexts(warehouse)
    turns = sum(r.turns for r in reports)
    _say(
        log,
        f"{turns} turns -> {table.height} distinct segments; "
        f"{contexts['segment_id'].n_unique()} short segments get a context",
    )
    return StageReport(
        "segments",
        values={
            "distinct_segments": table.height,
            "turns": turns,
            "dedup_ratio": round(turns / max(table.height, 1), 1),
            "short_segments_with_context": contexts["segment_id"].n_unique(),
        },
        tables={
            "by_kind": table.group_by("kind").len().sort("kind"),
            "preview": table.select("segment_id", "text_en", "kind", "n_occurrences", "n_protected").head(10),
        },
        seconds=time.perf_counter() - started,
        per_asset={
            "sample_segments": {"turns": turns},
            "dataset_segments": {"distinct_segments": table.height},
            "segment_contexts": {"short_segments_with_context": contexts["segment_id"].n_unique()},
        },
    )


# ---------------------------------------------------------------------------------------- translation
def translate(
    warehouse: Warehouse, config: ProjectConfig, mt_system: str, log: Log | None = None
) -> StageReport:
    """`translations` of every missing segment by one configured MT system (append-only cache)."""
    from vlmfr_data.mt import create_system
    from vlmfr_data.mt.run import translate_segments

    system_config = config.mt_system(mt_system)
    system = create_system(system_config)
    availability = system.availability()
    if not availability.ok:
        _say(log, f"{system.name}: {availability}")
        return StageReport("translations", values={"status": str(availability), "new_rows": 0})
    result = translate_segments(warehouse, system, batch_size=system_config.batch_size)
    with warehouse.connect() as con:
        counts = con.execute(
            "SELECT count(*), count(error), count(*) FILTER (WHERE NOT spans_ok) FROM translations "
            "WHERE system = ? AND system_version = ?",
            [system.name, system.version],
        ).fetchone()
        assert counts is not None  # an aggregate without GROUP BY always returns one row
        total, errors, flags = counts
        pairs = con.execute(
            "SELECT s.text_en, t.text_fr, t.error FROM translations t JOIN segments s USING (segment_id) "
            "WHERE t.system = ? AND t.system_version = ? ORDER BY s.n_occurrences DESC LIMIT 12",
            [system.name, system.version],
        ).pl()
    return StageReport(
        "translations",
        values={
            "status": "available",
            "system_version": system.version,
            "rows": total,
            "new_rows": result.translated + result.failed,
            "errors": errors,
            "span_flags": flags,
            "sentences_per_second": round(result.segments_per_second, 1),
        },
        tables={"sample_pairs": pairs},
        seconds=result.seconds,
    )


# -------------------------------------------------------------------------------------------- quality
def score(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`quality_scores` for every new (translation, signal version) and `quality_signals` (status)."""
    from vlmfr_data.quality.scoring import score_translations

    result = score_translations(warehouse, _quality(config))
    for name, status in result.signals.items():
        _say(log, f"{name}: {status}")
    summary = warehouse.sql(
        "SELECT signal, system, count(*) AS pairs, round(avg(score), 3) AS mean_score, count(gate) AS gated "
        "FROM current_quality_scores GROUP BY ALL ORDER BY ALL"
    )
    return StageReport(
        "quality_scores",
        values={"pairs": result.pairs, "signals": result.signals},
        tables={"mean_score_per_signal_and_system": summary},
        seconds=result.seconds,
        per_asset={"quality_signals": {"signals": result.signals}},
    )


def combine(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`translation_quality`: combined score, gates, tier and the best system per segment."""
    from vlmfr_data.quality.scoring import combine_scores

    started = time.perf_counter()
    quality = _quality(config)
    table = combine_scores(warehouse, quality)
    best = table.filter(pl.col("is_best")).group_by("system", "tier").len().sort("system", "tier")
    return StageReport(
        "translation_quality",
        values={"translations": table.height, "thresholds": quality.thresholds},
        tables={"best_system_and_tier": best},
        seconds=time.perf_counter() - started,
    )


def rebuild_french(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`french_samples` of every ingested dataset, with their tier."""
    from vlmfr_data.quality.french_samples import build_french_samples

    started = time.perf_counter()
    total = 0
    for dataset in warehouse.partitions("samples"):
        rows = build_french_samples(warehouse, dataset)
        total += rows
        _say(log, f"{dataset}: {rows} French samples")
    return StageReport(
        "french_samples",
        values={"samples": total},
        tables={"tier_summary": warehouse.sql("SELECT * FROM tier_summary")},
        seconds=time.perf_counter() - started,
    )


def evaluate_gold(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`gold_pairs`, `gold_summary`, `signal_correlations`, `threshold_ablation` against gold French."""
    from vlmfr_data.quality.gold import evaluate_against_gold, load_configured_gold

    started = time.perf_counter()
    gold, without = load_configured_gold(config)
    for dataset in without:
        _say(log, f"no gold configured for {dataset} (add a [[gold]] entry with a CSV of text_en,text_fr)")
    results = evaluate_against_gold(warehouse, gold, _quality(config).gold_high_chrf)
    return StageReport(
        "gold",
        values={"pairs_with_gold": results["pairs"].height, "datasets_without_gold": without},
        tables={
            "per_system": results["summary"],
            "per_tier": warehouse.sql("SELECT * FROM gold_tiers"),
            "signal_correlations": results["correlations"],
        },
        seconds=time.perf_counter() - started,
        per_asset={
            name: {"pairs_with_gold": results["pairs"].height}
            for name in ("gold_pairs", "signal_correlations", "threshold_ablation")
        },
    )


# -------------------------------------------------------------------------------------------- corpora
def export_corpus(
    warehouse: Warehouse, config: ProjectConfig, tier_set: str, log: Log | None = None
) -> StageReport:
    """The French corpus of one cumulative tier set under `$VLMFR_HOME/corpora/<tier_set>/`."""
    from vlmfr_data.corpora import export_corpus as export
    from vlmfr_data.tiers import GOLD_CORPUS

    started = time.perf_counter()
    gold = None
    if tier_set == GOLD_CORPUS:
        from vlmfr_data.quality.gold import load_configured_gold

        gold = load_configured_gold(config)[0]
    result = export(warehouse, tier_set, _quality(config).thresholds, gold=gold)
    _say(log, f"corpus {tier_set}: {result.samples} samples in {result.folder}")
    return StageReport(
        "french_corpora",
        values={"samples": result.samples, "by_dataset": result.by_dataset},
        paths={"folder": result.folder},
        seconds=time.perf_counter() - started,
    )


def export_hf_dataset(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """Every corpus as one Hugging Face dataset folder (a config per corpus, images embedded, a card)."""
    from vlmfr_data.hf_export import export_hf_dataset as export
    from vlmfr_data.plugins import FORMATS

    started = time.perf_counter()
    licenses = {d.name: d.license or getattr(FORMATS.get(d.format), "license", "") for d in config.datasets}
    result = export(warehouse, licenses=licenses)
    _say(log, f"Hugging Face dataset: {result.folder} (configs {', '.join(result.configs)})")
    return StageReport(
        "hf_dataset",
        values={"configs": result.configs, "megabytes": round(result.bytes_written / 1e6, 1)},
        paths={"folder": result.folder, "card": result.folder / "README.md"},
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------- report
def report(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """The quality report (Markdown + PNG figures) under `$VLMFR_HOME/report/`."""
    from vlmfr_data.quality.figures import build_quality_figures
    from vlmfr_data.report import write_report
    from vlmfr_data.review.stages import review_report

    started = time.perf_counter()
    figures = build_quality_figures(warehouse, _quality(config))
    review, review_section = review_report(warehouse, config)
    figures += list(review.figures.items())
    path = write_report(
        warehouse,
        figures,
        without_gold=[d.name for d in config.datasets if not config.gold_for(d.name)],
        extra_sections=[review_section],
    )
    _say(log, f"report: {path}")
    return StageReport(
        "quality_report",
        paths={"report": path},
        figures=dict(figures),
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------- review
def review_queue(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`review_queue`: the segments most worth a reviewer's time, and the offline page to review them."""
    from vlmfr_data.review.stages import default_folder, export_review, review_settings

    return export_review(warehouse, review_settings(config), default_folder(warehouse), log=log)


def review_inbox(warehouse: Warehouse) -> list:
    """The filled review files waiting in `$VLMFR_HOME/review/inbox/`."""
    return sorted((warehouse.home / "review" / "inbox").glob("*.csv"))


def expert_reviews(warehouse: Warehouse, config: ProjectConfig, log: Log | None = None) -> StageReport:
    """`expert_reviews` of every new file in the inbox; corrections become `human` translations."""
    from vlmfr_data.review.stages import import_reviews

    files = review_inbox(warehouse)
    _say(log, f"{len(files)} review file(s) in {warehouse.home / 'review' / 'inbox'}")
    return import_reviews(warehouse, files, log=log)


# ------------------------------------------------------------------------------------- declarations
_HERE = "vlmfr_data.stages"
STAGES = [
    Stage(
        "ingest",
        f"{_HERE}:ingest",
        writes=("samples", "quarantine"),
        cache=("samples", "quarantine"),
        partitions=("dataset",),
        config=("datasets",),
        group="ingest",
    ),
    Stage(
        "segment",
        f"{_HERE}:segment",
        reads=("samples",),
        writes=("segments", "sample_segments", "dataset_segments", "segment_contexts"),
        cache=("sample_segments", "dataset_segments"),
        config=("datasets",),
        group="ingest",
    ),
    Stage(
        "translations",
        f"{_HERE}:translate",
        reads=("segments", "segment_contexts"),
        writes=("translations",),
        cache=("translations",),
        partitions=("mt_system",),
        config=("mt_systems",),
        group="translation",
        description="Partition = MT system; append-only, resumable cache.",
    ),
    Stage(
        "expert_reviews",
        f"{_HERE}:expert_reviews",
        reads=("segments",),
        writes=("expert_reviews", "translations"),
        cache=("expert_reviews", "translations"),
        outputs=("expert_reviews",),
        group="review",
        description="Imports new files from VLMFR_HOME/review/inbox/*.csv; corrections become `human` "
        "translations.",
    ),
    Stage(
        "score",
        f"{_HERE}:score",
        reads=("translations", "segments", "expert_reviews"),
        writes=("quality_scores", "quality_signals"),
        cache=("quality_scores", "quality_signals"),
        config=("quality", "mt_systems"),
        group="quality",
    ),
    Stage(
        "translation_quality",
        f"{_HERE}:combine",
        reads=("quality_scores", "quality_signals", "translations", "segments", "expert_reviews"),
        writes=("translation_quality",),
        config=("quality",),
        group="quality",
    ),
    Stage(
        "french_samples",
        f"{_HERE}:rebuild_french",
        reads=("translation_quality", "sample_segments", "samples", "translations"),
        writes=("french_samples",),
        config=("quality",),
        group="quality",
    ),
    Stage(
        "review_queue",
        f"{_HERE}:review_queue",
        reads=("translation_quality", "sample_segments", "segments", "expert_reviews"),
        writes=("review_queue",),
        config=("review",),
        group="review",
        kinds=("csv", "html", "parquet"),
        description="Files: VLMFR_HOME/review/review.html (offline page) and review.csv.",
    ),
    Stage(
        "evaluate_gold",
        f"{_HERE}:evaluate_gold",
        reads=(
            *("translation_quality", "french_samples", "translations", "segments", "dataset_segments"),
            *("samples", "quality_scores", "quality_signals"),
        ),
        writes=("gold_summary", "gold_pairs", "signal_correlations", "threshold_ablation"),
        config=("gold", "quality"),
        group="gold",
    ),
    Stage(
        "french_corpora",
        f"{_HERE}:export_corpus",
        reads=("french_samples", "translation_quality", "samples"),
        outputs=("french_corpora",),
        partitions=("tier_set",),
        config=("quality", "gold"),
        group="corpora",
        kinds=("json", "parquet"),
        description="A French training corpus per cumulative tier set under VLMFR_HOME/corpora/<tier set>/: "
        "LLaVA JSON, Parquet and a manifest. Training and evaluation per tier read exactly these files. "
        "Partition `gold`: the ceiling, every sample whose segments all have a hand-written reference, in "
        "that French.",
    ),
    Stage(
        "hf_dataset",
        f"{_HERE}:export_hf_dataset",
        after=("french_corpora",),
        outputs=("hf_dataset",),
        config=("datasets",),
        group="corpora",
        kinds=("parquet",),
        description="Every French corpus as one Hugging Face dataset folder under VLMFR_HOME/exports/hf/: "
        "`datasets.load_dataset(folder, 'high')` opens a tier with its images; README.md is its dataset card "
        "(configs, splits, licences, how it was made).",
    ),
    Stage(
        "quality_report",
        f"{_HERE}:report",
        reads=(
            *("gold_summary", "gold_pairs", "signal_correlations", "threshold_ablation", "review_queue"),
            *("samples", "quarantine", "segments", "translations", "expert_reviews"),
            *("quality_scores", "quality_signals", "translation_quality", "french_samples"),
        ),
        after=("french_corpora",),
        outputs=("quality_report",),
        config=("quality", "review"),
        group="quality",
        kinds=("markdown",),
        description="The quality report (Markdown + PNG figures) under VLMFR_HOME/report/.",
    ),
]
