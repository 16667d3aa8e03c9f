"""Great Expectations suites over translations, quality scores and tiers.

Each suite is either `error` (a broken invariant: null ids, duplicate keys, a score outside [0, 1], an
`<image>` token lost between the English and French sample) or `warn` (drift: too many MT errors or
span flags, the French share below a bound, too many rejected samples). Suites run on pandas frames
built from the warehouse (GX 1.x has no polars datasource, and its SQL datasource on DuckDB is unreliable),
and every run updates the GX Data Docs under `VLMFR_HOME/gx/`.

Great Expectations takes seconds to import, so it is imported only when a suite runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import KEPT_TIERS, TIERS

log = logging.getLogger(__name__)


def _translations(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.sql(
        "SELECT segment_id, system, system_version, text_fr, error, spans_ok, "
        "(text_fr IS NOT NULL OR error IS NOT NULL) AS has_output_or_error FROM translations"
    )


def _quality_scores(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.sql("SELECT segment_id, system, signal, value, score FROM quality_scores")


def _french_share(warehouse: Warehouse) -> pl.DataFrame:
    """P(French) of each scorable translation (lid_french rows with a score)."""
    return warehouse.sql(
        "SELECT system, value AS p_french FROM quality_scores WHERE signal = 'lid_french' AND score IS NOT NULL"
    )


def _french_samples(warehouse: Warehouse) -> pl.DataFrame:
    """One row per French sample with the `<image>` count of its English and French turns."""
    return warehouse.sql(
        """
        WITH fr AS (
            SELECT dataset, split, sample_id, tier,
                   list_sum(list_transform(turns, t -> len(string_split(coalesce(t.text, ''), '<image>')) - 1)) AS n_fr
            FROM french_samples),
        en AS (
            SELECT dataset, split, sample_id,
                   list_sum(list_transform(turns, t -> len(string_split(t.text, '<image>')) - 1)) AS n_en
            FROM samples)
        SELECT fr.dataset, fr.split, fr.sample_id, fr.tier, en.n_en = fr.n_fr AS image_tokens_match
        FROM fr JOIN en USING (dataset, split, sample_id)
        """
    )


def _high_tier_agreement(warehouse: Warehouse) -> pl.DataFrame:
    """One row: the share of `high` occurrences (chosen translations, weighted by how often the segment occurs)
    whose other engines wrote something else (case, spacing and punctuation aside). A contested string that
    carries much data ("no": Apertium "ne", Gemma "pas de") is what a per-string score hides."""
    norm = "trim(regexp_replace(lower({0}), '[[:punct:][:space:]]+', ' ', 'g'))"
    return warehouse.sql(
        f"""
        WITH best AS (
            SELECT segment_id, system, text_fr FROM translation_quality WHERE is_best AND tier = 'high'),
        others AS (
            SELECT b.segment_id, bool_or({norm.format("o.text_fr")} <> {norm.format("b.text_fr")}) AS disagree
            FROM best b JOIN translations o ON o.segment_id = b.segment_id AND o.system <> b.system
            WHERE o.error IS NULL AND o.text_fr IS NOT NULL GROUP BY b.segment_id)
        SELECT coalesce(sum(s.n_occurrences) FILTER (WHERE d.disagree), 0)
                   / greatest(coalesce(sum(s.n_occurrences), 0), 1) AS disagreeing_share,
               coalesce(sum(s.n_occurrences), 0)::BIGINT AS high_occurrences
        FROM best b JOIN segments s USING (segment_id) LEFT JOIN others d USING (segment_id)
        """
    )


# The most `high` occurrences whose engines disagree before the suite warns.
MAX_HIGH_DISAGREEMENT = 0.25


@dataclass(frozen=True)
class Suite:
    name: str
    table: str  # the asset / view it guards
    severity: str  # "error" or "warn"
    frame: Callable[[Warehouse], pl.DataFrame]
    expectations: Callable[[Any], list[Any]]  # gxe module -> expectations


SUITES: dict[str, Suite] = {
    s.name: s
    for s in [
        Suite(
            "translations_invariants",
            "translations",
            "error",
            _translations,
            lambda gxe: [
                gxe.ExpectColumnValuesToNotBeNull(column="segment_id"),
                gxe.ExpectColumnValuesToNotBeNull(column="system"),
                gxe.ExpectColumnValuesToNotBeNull(column="system_version"),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["segment_id", "system", "system_version"]),
                gxe.ExpectColumnValuesToBeInSet(column="has_output_or_error", value_set=[True]),
            ],
        ),
        Suite(
            "translations_drift",
            "translations",
            "warn",
            _translations,
            lambda gxe: [
                gxe.ExpectColumnValuesToBeNull(column="error", mostly=0.95),
                gxe.ExpectColumnValuesToBeInSet(column="spans_ok", value_set=[True], mostly=0.9),
            ],
        ),
        Suite(
            "quality_scores_invariants",
            "quality_scores",
            "error",
            _quality_scores,
            lambda gxe: [
                gxe.ExpectColumnValuesToNotBeNull(column="segment_id"),
                gxe.ExpectColumnValuesToNotBeNull(column="signal"),
                gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0.0, max_value=1.0),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["segment_id", "system", "signal"]),
            ],
        ),
        Suite(
            "french_share_drift",
            "quality_scores",
            "warn",
            _french_share,
            lambda gxe: [
                # at least 80% of translations (3+ words) should read as French with P >= 0.5
                gxe.ExpectColumnValuesToBeBetween(column="p_french", min_value=0.5, mostly=0.8),
            ],
        ),
        Suite(
            "french_samples_invariants",
            "french_samples",
            "error",
            _french_samples,
            lambda gxe: [
                gxe.ExpectColumnValuesToNotBeNull(column="sample_id"),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["dataset", "split", "sample_id"]),
                gxe.ExpectColumnValuesToBeInSet(column="tier", value_set=TIERS),
                gxe.ExpectColumnValuesToBeInSet(column="image_tokens_match", value_set=[True]),
            ],
        ),
        Suite(
            "high_tier_agreement",
            "translation_quality",
            "warn",
            _high_tier_agreement,
            lambda gxe: [
                gxe.ExpectColumnValuesToBeBetween(
                    column="disagreeing_share", min_value=0.0, max_value=MAX_HIGH_DISAGREEMENT
                ),
            ],
        ),
        Suite(
            "french_samples_drift",
            "french_samples",
            "warn",
            _french_samples,
            lambda gxe: [
                # at most half of the samples rejected
                gxe.ExpectColumnValuesToBeInSet(column="tier", value_set=KEPT_TIERS, mostly=0.5),
            ],
        ),
    ]
}


@dataclass
class ValidationOutcome:
    suite: str
    severity: str
    success: bool
    rows: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    docs_url: str | None = None


def run_suite(warehouse: Warehouse, name: str, frame: pl.DataFrame | None = None) -> ValidationOutcome:
    """Validate one suite (on `frame`, default: built from the warehouse); update the Data Docs."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite_def = SUITES[name]
    data = (frame if frame is not None else suite_def.frame(warehouse)).to_pandas()
    # GX reads and rewrites its project files (great_expectations.yml, suites, Data Docs) without a lock:
    # two partitions checked at once made one process read a half-written YAML (TypeError in parse_yaml)
    with warehouse.file_lock("gx.lock"):
        result, context = _run_checkpoint(gx, gxe, warehouse, name, suite_def, data)
        sites = context.get_docs_sites_urls()
    failures = []
    for run in result.run_results.values():
        for item in run.results:
            if not item.success:
                config = item.expectation_config
                failures.append(
                    {
                        "expectation": config.type,
                        "column": config.kwargs.get("column") or config.kwargs.get("column_list"),
                        "unexpected_count": item.result.get("unexpected_count"),
                        "unexpected_percent": item.result.get("unexpected_percent"),
                        "partial_unexpected_list": (item.result.get("partial_unexpected_list") or [])[:5],
                    }
                )
    outcome = ValidationOutcome(
        suite=name,
        severity=suite_def.severity,
        success=bool(result.success),
        rows=len(data),
        failures=failures,
        docs_url=sites[0]["site_url"] if sites else None,
    )
    if not outcome.success:
        log.warning("GX suite %s (%s) failed: %s", name, suite_def.severity, failures)
    return outcome


def _run_checkpoint(
    gx: Any, gxe: Any, warehouse: Warehouse, name: str, suite_def: Suite, data: Any
) -> tuple[Any, Any]:
    """The suite's checkpoint run on `data` in the warehouse's GX file context; (result, context)."""
    context = gx.get_context(mode="file", project_root_dir=str(warehouse.home))
    context.variables.progress_bars = {"globally": False}
    source = context.data_sources.add_or_update_pandas("vlmfr")
    asset = next((a for a in source.assets if a.name == name), None) or source.add_dataframe_asset(name)
    batch = (
        asset.batch_definitions[0]
        if asset.batch_definitions
        else asset.add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=name, expectations=suite_def.expectations(gxe))
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
        )
    )
    return checkpoint.run(batch_parameters={"dataframe": data}), context
