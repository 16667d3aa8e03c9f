"""Gold French references: reference chrF / BLEU per MT system, the share of high-quality translations,
and how well each quality signal (and the combined score) tracks reference chrF (Spearman).

The shipped gold file covers every distinct easy-vqa question and answer (see data/gold_easy_vqa_fr.md);
`load_gold` takes any CSV with `text_en,text_fr` columns for other datasets.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import cast

import polars as pl
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.metrics.chrf import CHRF
from scipy.stats import spearmanr

from vlmfr_data.catalog import GOLD_PAIRS, GOLD_SUMMARY, SIGNAL_CORRELATIONS, THRESHOLD_ABLATION
from vlmfr_data.config import SHIPPED_GOLD, ProjectConfig
from vlmfr_data.segments import normalise, segment_id
from vlmfr_data.selection import ALL_KEPT, keep_rule, kept_counts
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import REJECTED

SELECTED = "selected"  # gold_summary's row for the chosen translations
# per segment, the system whose translation has the best gold chrF: the ceiling of any selection
ORACLE = "oracle"
# per segment, the translation that agrees most with the other systems' (chrF MBR, no quality signal)
CONSENSUS = "consensus"
ALL_SYSTEMS = "all"  # signal_correlations' row over every system's pairs together


def load_gold(path: Path | None = None) -> pl.DataFrame:
    """`segment_id, text_en, reference` from a CSV with `text_en,text_fr` (default: shipped easy-vqa gold)."""
    if path is None:
        with importlib.resources.as_file(
            importlib.resources.files("vlmfr_data") / "data" / SHIPPED_GOLD["easy_vqa"]
        ) as shipped:
            raw = pl.read_csv(shipped)
    else:
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"gold file {path} does not exist; fix `path` under [[gold]] in vlmfr.toml"
            )
        raw = pl.read_csv(path)
    missing = {"text_en", "text_fr"} - set(raw.columns)
    if missing:
        raise ValueError(f"gold file {path}: missing columns {sorted(missing)} (need text_en,text_fr)")
    return raw.select(
        pl.col("text_en")
        .map_elements(lambda t: segment_id(normalise(t)), return_dtype=pl.String)
        .alias("segment_id"),
        "text_en",
        pl.col("text_fr").alias("reference"),
    )


def load_configured_gold(config: ProjectConfig) -> tuple[pl.DataFrame, list[str]]:
    """Every configured gold set of a configured dataset, as one frame with its `gold_set` name (a
    string with references in two sets keeps the first); and the datasets that have none."""
    frames = []
    for gold in config.gold or []:
        if gold.dataset not in {d.name for d in config.datasets}:
            continue
        if gold.path:
            frame = load_gold(Path(gold.path))
        else:
            fmt = config.dataset(gold.dataset).format
            if fmt not in SHIPPED_GOLD:
                raise ValueError(
                    f"[[gold]] {gold.name}: no shipped reference for format {fmt!r}; give `path`"
                )
            frame = load_gold()
        frames.append(frame.with_columns(pl.lit(gold.name).alias("gold_set")))
    missing = [d.name for d in config.datasets if not config.gold_for(d.name)]
    if not frames:
        return pl.DataFrame(
            schema={
                "segment_id": pl.String(),
                "text_en": pl.String(),
                "reference": pl.String(),
                "gold_set": pl.String(),
            }
        ), missing
    return pl.concat(frames).unique("segment_id", keep="first", maintain_order=True), missing


def evaluate_against_gold(
    warehouse: Warehouse, gold: pl.DataFrame, gold_high_chrf: float = 60.0
) -> dict[str, pl.DataFrame]:
    """Write `gold_pairs`, `gold_summary`, `signal_correlations`; return them."""
    quality = warehouse.read("translation_quality").select(
        "segment_id", "system", "text_fr", "tier", "combined", "is_best"
    )
    occurrences = warehouse.read("segments").select("segment_id", pl.col("n_occurrences").cast(pl.Int64))
    pairs = quality.join(gold, on="segment_id", how="inner").join(occurrences, on="segment_id", how="left")
    chrf = CHRF()
    pairs = pairs.with_columns(
        pl.Series(
            "chrf",
            [
                chrf.sentence_score(h or "", [r]).score
                for h, r in pairs.select("text_fr", "reference").iter_rows()
            ],
            dtype=pl.Float64,
        )
    )
    pairs = pairs.with_columns((pl.col("chrf") >= gold_high_chrf).alias("gold_high"))
    if "gold_set" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit("gold").alias("gold_set"))
    pairs = with_consensus_choice(pairs).select(list(GOLD_PAIRS.schema))
    groups = []
    for (gold_set,), in_set in pairs.group_by("gold_set", maintain_order=True):
        groups += [
            (gold_set, system, group) for (system,), group in in_set.group_by("system", maintain_order=True)
        ]
        # `selected`: the chosen translation of every segment, the one the French samples and corpora carry
        groups.append((gold_set, SELECTED, in_set.filter(pl.col("is_best"))))
        oracle = in_set.sort(["segment_id", "chrf", "system"], descending=[False, True, False])
        groups.append((gold_set, ORACLE, oracle.unique("segment_id", keep="first")))
        groups.append((gold_set, CONSENSUS, in_set.filter(pl.col("is_consensus"))))
    summary = pl.DataFrame(
        [_gold_summary_row(gold_set, system, group) for gold_set, system, group in groups if group.height],
        schema=GOLD_SUMMARY.schema,
    ).sort("gold_set", pl.col("system").is_in([SELECTED, ORACLE, CONSENSUS]), "system")
    scores = warehouse.sql("SELECT segment_id, system, signal, value FROM current_quality_scores")
    keyed = pairs.select("gold_set", "segment_id", "system", "chrf", "n_occurrences")
    long = pl.concat(
        [
            scores.join(keyed, on=["segment_id", "system"]),
            pairs.select(
                "segment_id",
                "system",
                pl.lit("combined").alias("signal"),
                pl.col("combined").alias("value"),
                "gold_set",
                "chrf",
                "n_occurrences",
            ),
        ],
        how="diagonal",
    ).drop_nulls(["value", "chrf"])
    # over every system's pairs, and within each system (does the score rank one engine's outputs?)
    long = pl.concat([long.with_columns(pl.lit(ALL_SYSTEMS).alias("system")), long])
    rows = []
    for (gold_set, signal, system), group in long.group_by(
        ["gold_set", "signal", "system"], maintain_order=True
    ):
        constant = group["value"].n_unique() < 2 or group["chrf"].n_unique() < 2
        # A constant signal (a gate that never fired here) has no rank correlation: null, not NaN,
        # so it sorts last and SQL reads it as missing.
        rho, p = (
            (None, None)
            if constant
            else (float(x) for x in cast(tuple[float, float], spearmanr(group["value"], group["chrf"])))
        )
        weights = group["n_occurrences"].fill_null(1).cast(pl.Float64)
        rows.append(
            {
                "gold_set": gold_set,
                "signal": signal,
                "system": system,
                "pairs": group.height,
                "spearman": rho,
                "p_value": p,
                "spearman_occ": None
                if constant
                else weighted_spearman(group["value"], group["chrf"], weights),
            }
        )
    correlations = pl.DataFrame(rows, schema=SIGNAL_CORRELATIONS.schema).sort(
        "gold_set", "system", "spearman", descending=[False, False, True], nulls_last=True
    )
    warehouse.write_partition("gold_pairs", pairs)
    warehouse.write_partition("gold_summary", summary)
    warehouse.write_partition("signal_correlations", correlations)
    ablation = threshold_ablation(warehouse)
    return {"pairs": pairs, "summary": summary, "correlations": correlations, "ablation": ablation}


def with_consensus_choice(pairs: pl.DataFrame) -> pl.DataFrame:
    """`pairs` plus `is_consensus`: per segment, the translation with the highest mean chrF against the
    other systems' translations (chrF minimum Bayes risk, every system counted alike); ties go to the
    first system by name."""
    from vlmfr_data.quality.consensus import agreement

    ranked = pairs.with_columns(
        pl.Series("_agreement", agreement(pairs), dtype=pl.Float64).fill_null(0.0)
    ).sort(["segment_id", "_agreement", "system"], descending=[False, True, False])
    best = ranked.unique("segment_id", keep="first").select(
        "segment_id", "system", pl.lit(True).alias("is_consensus")
    )
    return pairs.join(best, on=["segment_id", "system"], how="left").with_columns(
        pl.col("is_consensus").fill_null(False)
    )


def weighted_spearman(x: pl.Series, y: pl.Series, weights: pl.Series) -> float | None:
    """Spearman's rho with each pair counted `weight` times (per occurrence): the weighted Pearson
    correlation of the ranks."""
    import numpy as np

    rx, ry = x.rank("average").to_numpy(), y.rank("average").to_numpy()
    w = weights.to_numpy()
    if w.sum() <= 0:
        return None
    mx, my = np.average(rx, weights=w), np.average(ry, weights=w)
    cov = np.average((rx - mx) * (ry - my), weights=w)
    sx, sy = np.sqrt(np.average((rx - mx) ** 2, weights=w)), np.sqrt(np.average((ry - my) ** 2, weights=w))
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else None


def _gold_summary_row(gold_set: str, system: str, group: pl.DataFrame) -> dict:
    hyps, refs = group["text_fr"].fill_null("").to_list(), [group["reference"].to_list()]
    weight = group["n_occurrences"].fill_null(0)
    total = int(weight.sum())

    def per_occurrence(flags: pl.Series) -> float | None:
        return float((flags.cast(pl.Int64) * weight).sum() / total) if total else None

    gold_high, high = group["gold_high"], group["tier"] == "high"
    return {
        "gold_set": gold_set,
        "system": system,
        "pairs": group.height,
        "chrf": CHRF().corpus_score(hyps, refs).score,
        "bleu": BLEU(tokenize="13a").corpus_score(hyps, refs).score,
        # polars types a reduction as any literal; the mean of a non-empty boolean column is a float
        "share_gold_high": float(cast(float, gold_high.mean())),
        "share_high_tier": float(cast(float, high.mean())),
        "share_rejected": float(cast(float, (group["tier"] == REJECTED).mean())),
        "occurrences": total,
        "share_gold_high_occ": per_occurrence(gold_high),
        "share_high_tier_occ": per_occurrence(high),
    }


def threshold_ablation(warehouse: Warehouse, steps: int = 21) -> pl.DataFrame:
    """Corpus size vs translation quality as the high-tier cut moves: per cut, the French samples and
    the gold translations `vlmfr_data.selection.keep_rule` keeps with every kept tier (so a gated or
    rejected sample or translation never counts; a translation is judged as a one-segment sample);
    gold-high is `gold_pairs.gold_high`, set with the configured cutoff."""
    cuts = [round(0.5 + 0.45 * i / (steps - 1), 4) for i in range(steps)]
    samples = warehouse.scan("french_samples").select("tier", "min_combined")
    total = int(samples.select(pl.len()).collect().item())
    kept_samples = kept_counts(samples, cuts, tier_set=ALL_KEPT)
    pairs = warehouse.scan("gold_pairs").select(
        "tier", "combined", pl.col("gold_high").cast(pl.Int64), "n_occurrences"
    )
    gold_high = pl.col("gold_high") == 1

    def per_cut(cut: float) -> list[pl.Expr]:
        keep = keep_rule(cut, ALL_KEPT, score="combined")
        weight = pl.col("n_occurrences").filter(keep).sum()
        return [
            keep.sum().alias(f"translations_kept_{cut}"),
            pl.col("gold_high").filter(keep).mean().alias(f"gold_precision_{cut}"),
            ((keep & gold_high).sum() / pl.max_horizontal(gold_high.sum(), 1)).alias(f"gold_recall_{cut}"),
            # null when nothing with an occurrence count is kept, as for no translation kept
            pl.when(weight > 0)
            .then((pl.col("gold_high") * pl.col("n_occurrences")).filter(keep).sum() / weight)
            .alias(f"gold_precision_occ_{cut}"),
        ]

    measured = pairs.select([e for cut in cuts for e in per_cut(cut)]).collect().row(0, named=True)
    rows = pl.DataFrame(
        {
            "threshold": cuts,
            "samples": kept_samples,
            "share_of_samples": [n / max(total, 1) for n in kept_samples],
            **{
                name: [measured[f"{name}_{cut}"] for cut in cuts]
                for name in ("translations_kept", "gold_precision", "gold_recall", "gold_precision_occ")
            },
        },
        schema_overrides={"gold_precision": pl.Float64(), "gold_precision_occ": pl.Float64()},
    ).cast(THRESHOLD_ABLATION.schema)  # type: ignore[arg-type]
    warehouse.write_partition("threshold_ablation", rows)
    return rows
