"""What the reviews say about the automatic score, and how far the review budget reaches.

- Budget curve: share of all segment occurrences covered by the top K queued segments, K = 1..N, beside
  the most any K segments could cover (the K most frequent).
- Agreement: Spearman rank correlation of the combined score with the 1-5 ratings, per rated MT system
  and over all, on every rating and on the stratified random share alone (the priority picks lean to
  low-score, high-occurrence strings; the stratified rows are a random draw within each system x tier).
  A rating counts for the machine translation it was given to (same segment, system and exact text, so
  a later re-translation is not judged by an older rating); `human` translations have no machine score.
- Suggested `high` threshold: a rating of 4 or 5 means "good enough for the high tier". Over the rated
  machine translations without a signal gate, the suggestion is the lowest combined-score cut t such
  that at least 90% of those with combined >= t are rated good, with at least 5 of them: the cut that
  keeps the most data at that precision. Its precision and recall (share of all good ones kept) are
  given beside those of the current threshold; with too few ratings there is no suggestion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import polars as pl

from vlmfr_data import markdown
from vlmfr_data.review import HUMAN_SYSTEM
from vlmfr_data.store import Warehouse

GOOD_RATING = 4
TARGET_PRECISION = 0.9
MIN_SUPPORT = 5
SIGNAL_GATE_FREE = pl.col("gates").list.set_difference(pl.lit(["expert_rejected"])).list.len() == 0


def rated_machine_translations(warehouse: Warehouse) -> pl.DataFrame:
    """The latest rating of each rated machine translation, with its combined score and tier."""
    reviews = (
        warehouse.scan("expert_reviews")
        .filter(pl.col("rating").is_not_null() & (pl.col("rated_system") != HUMAN_SYSTEM))
        .sort("imported_at", "row")
        .group_by("segment_id", "rated_system", "rated_fr", maintain_order=True)
        .last()
    )
    quality = warehouse.scan("translation_quality").select(
        "segment_id",
        pl.col("system").alias("rated_system"),
        pl.col("text_fr").alias("rated_fr"),
        "combined",
        "tier",
        "gates",
    )
    return reviews.join(quality, on=["segment_id", "rated_system", "rated_fr"]).collect()


def _spearman(frame: pl.DataFrame) -> tuple[float | None, float | None]:
    if frame.height < 3 or frame["rating"].n_unique() < 2 or frame["combined"].n_unique() < 2:
        return None, None  # undefined on fewer than 3 pairs or a constant column
    from scipy.stats import spearmanr

    result = spearmanr(frame["combined"].to_numpy(), frame["rating"].to_numpy())
    statistic, p_value = cast(tuple[float, float], result)  # scipy builds the result class at run time
    return float(statistic), float(p_value)


def agreement_table(rated: pl.DataFrame) -> pl.DataFrame:
    """Per rated system and over all: ratings, mean rating, Spearman (all ratings / stratified only)."""
    rated = rated.filter(pl.col("combined").is_not_null())
    rows = []
    groups = [("all", rated)] + [
        (system, rated.filter(pl.col("rated_system") == system))
        for system in sorted(rated["rated_system"].unique().to_list())
    ]
    for system, frame in groups:
        stratified = frame.filter(pl.col("selection") == "stratified")
        rho, p_value = _spearman(frame)
        rho_stratified, _ = _spearman(stratified)
        rows.append(
            {
                "system": system,
                "ratings": frame.height,
                "mean_rating": float(frame["rating"].mean()) if frame.height else None,  # type: ignore[arg-type]
                "spearman": rho,
                "p_value": p_value,
                "stratified_ratings": stratified.height,
                "spearman_stratified": rho_stratified,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "system": pl.String(),
            "ratings": pl.Int64(),
            "mean_rating": pl.Float64(),
            "spearman": pl.Float64(),
            "p_value": pl.Float64(),
            "stratified_ratings": pl.Int64(),
            "spearman_stratified": pl.Float64(),
        },
    )


def _cut(frame: pl.DataFrame, threshold: float) -> dict[str, Any]:
    good = frame["rating"] >= GOOD_RATING
    kept = frame["combined"] >= threshold
    n_kept = int(kept.sum())
    return {
        "threshold": round(threshold, 4),
        "kept": n_kept,
        "precision": int((good & kept).sum()) / n_kept if n_kept else None,
        "recall": int((good & kept).sum()) / int(good.sum()) if good.sum() else None,
    }


def suggest_high_threshold(rated: pl.DataFrame, current: float) -> dict[str, Any]:
    """The lowest cut with >= 90% good ratings above it (>= 5 ratings), beside the current cut."""
    frame = rated.filter(pl.col("combined").is_not_null() & SIGNAL_GATE_FREE)
    out: dict[str, Any] = {
        "rule": f"lowest combined cut where >= {TARGET_PRECISION:.0%} of rated machine translations at or "
        f"above it are rated >= {GOOD_RATING}, with >= {MIN_SUPPORT} ratings",
        "ratings": frame.height,
        "current": _cut(frame, current),
        "suggested": None,
    }
    for threshold in sorted(frame["combined"].unique().to_list()):
        cut = _cut(frame, threshold)
        if cut["kept"] >= MIN_SUPPORT and cut["precision"] >= TARGET_PRECISION:
            out["suggested"] = cut
            break
    return out


def budget_figure(curve: pl.DataFrame, path: Path) -> Path:
    """PNG of the budget curve (queue coverage vs the K most frequent segments)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    ax.plot(curve["k"], 100 * curve["queue_coverage"], marker=".", label="review queue (priority order)")
    ax.plot(
        curve["k"],
        100 * curve["most_frequent_coverage"],
        linestyle="--",
        color="grey",
        label="K most frequent segments (upper bound)",
    )
    ax.set_xlabel("segments reviewed (K)")
    ax.set_ylabel("% of all occurrences covered")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Review budget curve")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def coverage_at(curve: pl.DataFrame, ks: tuple[int, ...] = (10, 20, 50)) -> dict[str, float]:
    return {
        f"coverage_at_{k}": round(float(curve.filter(pl.col("k") == k)["queue_coverage"][0]), 4)
        for k in ks
        if k <= curve.height
    }


def review_section(warehouse: Warehouse, folder: Path, current_high: float) -> tuple[dict[str, Any], str]:
    """The report part: a StageReport-like dict (values, tables, figures) and a Markdown section."""
    from vlmfr_data.review.queue import budget_curve

    queue = warehouse.read("review_queue").sort("rank")
    reviews = warehouse.read("expert_reviews")
    rated = rated_machine_translations(warehouse)
    agreement = agreement_table(rated)
    threshold = suggest_high_threshold(rated, current_high)
    occurrences = warehouse.scan("segments").select("segment_id", "n_occurrences").collect()
    total = float(occurrences["n_occurrences"].sum() or 0)
    reviewed_ids = reviews["segment_id"].unique().to_list()
    reviewed_share = (
        float(occurrences.filter(pl.col("segment_id").is_in(reviewed_ids))["n_occurrences"].sum()) / total
        if total
        else 0.0
    )
    values: dict[str, Any] = {
        "queued": queue.height,
        "reviews": reviews.height,
        "review_files": reviews["file_hash"].n_unique(),
        "actions": dict(reviews.group_by("action").len().sort("action").iter_rows()),
        "reviewed_share_of_occurrences": round(reviewed_share, 4),
        "high_threshold": threshold,
    }
    figures: dict[str, Path] = {}
    tables: dict[str, pl.DataFrame] = {"agreement": agreement}
    lines = ["# Expert review\n"]
    if queue.height:
        curve = budget_curve(warehouse, queue)
        values.update(coverage_at(curve))
        figures["Review budget curve"] = budget_figure(curve, folder / "review_budget_curve.png")
        picks = queue.group_by("selection").len().sort("selection")
        lines.append(
            f"Review queue `{queue['queue_id'][0]}`: {queue.height} segments "
            f"({', '.join(f'{n} {s}' for s, n in picks.iter_rows())}); the top K cover "
            + ", ".join(
                f"{100 * float(curve['queue_coverage'][k - 1]):.1f}% (K={k})"
                for k in (10, 20, 50)
                if k <= curve.height
            )
            + " of all segment occurrences.\n"
        )
        lines.append("![Review budget curve](review_budget_curve.png)\n")
        tables["budget_curve"] = curve
    else:
        lines.append("No review queue exported yet (`vlmfr review export --budget N`).\n")
    if reviews.height:
        lines.append(
            f"Imported: {reviews.height} reviews from {values['review_files']} file(s), covering "
            f"{100 * reviewed_share:.1f}% of occurrences; actions: "
            + ", ".join(f"{a} {n}" for a, n in values["actions"].items())
            + ".\n"
        )
        lines.append(
            "## Agreement of the combined score with reviewers (Spearman)\n\n"
            + markdown.table(agreement.with_columns(pl.col(pl.Float64).round(3)))
            + "\n"
        )
        suggested = threshold["suggested"]
        current = threshold["current"]
        lines.append(
            f"## Suggested `high` threshold\n\nRule: {threshold['rule']}. Current {current['threshold']}: "
            f"{current['kept']} rated kept, precision {_pct(current['precision'])}, recall {_pct(current['recall'])}. "
            + (
                f"Suggested {suggested['threshold']}: {suggested['kept']} kept, precision "
                f"{_pct(suggested['precision'])}, recall {_pct(suggested['recall'])} "
                f"(adopt with `[quality.thresholds] high = {suggested['threshold']}` in vlmfr.toml).\n"
                if suggested
                else f"No suggestion yet: no cut reaches that precision on {threshold['ratings']} ratings.\n"
            )
        )
    else:
        lines.append("No expert reviews imported yet (`vlmfr review import FILE...`).\n")
    report = {"stage": "expert_review", "values": values, "tables": tables, "figures": figures}
    return report, "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"
