"""Quality figures (PNG, matplotlib Agg): score distributions per system, tier sizes, signals vs gold."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vlmfr_data.quality.config import QualityConfig  # noqa: E402
from vlmfr_data.store import Warehouse  # noqa: E402
from vlmfr_data.tiers import TIER_COLOURS, TIERS  # noqa: E402


def score_distributions(warehouse: Warehouse, thresholds: dict[str, float], path: Path) -> Path:
    quality = warehouse.read("translation_quality")
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [i / 40 for i in range(41)]
    for (system,), group in quality.drop_nulls("combined").group_by("system", maintain_order=True):
        ax.hist(
            group["combined"].to_list(),
            bins=bins,
            histtype="step",
            linewidth=2,
            label=f"{system} (n={group.height})",
        )
    for tier, value in thresholds.items():
        ax.axvline(value, color=TIER_COLOURS[tier], linestyle="--", linewidth=1)
        ax.text(value, ax.get_ylim()[1] * 0.95, f" {tier}", color=TIER_COLOURS[tier], fontsize=8, va="top")
    ax.set(
        xlabel="combined quality score",
        ylabel="translations (distinct segments)",
        title="Combined score per MT system (dashed: tier thresholds)",
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def tier_sizes(warehouse: Warehouse, path: Path) -> Path:
    samples = warehouse.sql("SELECT tier, count(*) AS n FROM french_samples GROUP BY 1")
    per_system = warehouse.sql("SELECT system, tier, count(*) AS n FROM translation_quality GROUP BY ALL")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    counts = dict(samples.iter_rows())
    left.bar(TIERS, [counts.get(t, 0) for t in TIERS], color=[TIER_COLOURS[t] for t in TIERS])
    for i, t in enumerate(TIERS):
        left.text(i, counts.get(t, 0), f"{counts.get(t, 0):,}", ha="center", va="bottom", fontsize=8)
    left.set(title="French samples per tier (worst segment)", ylabel="samples")
    systems = sorted(per_system["system"].unique().to_list())
    width = 0.8 / max(len(systems), 1)
    for j, system in enumerate(systems):
        sub = dict(per_system.filter(pl.col("system") == system).select("tier", "n").iter_rows())
        right.bar(
            [i + j * width for i in range(len(TIERS))],
            [sub.get(t, 0) for t in TIERS],
            width,
            label=system,
        )
    right.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(TIERS))], TIERS)
    right.set(title="Translations per tier, by MT system", ylabel="distinct segments")
    right.legend(fontsize=8)
    return _save(fig, path)


def signals_vs_gold(warehouse: Warehouse, path: Path) -> Path:
    long = warehouse.sql(
        "SELECT q.signal, q.system, q.value, g.chrf FROM current_quality_scores q "
        "JOIN gold_pairs g ON g.segment_id = q.segment_id AND g.system = q.system "
        "UNION ALL SELECT 'combined', system, combined, chrf FROM gold_pairs"
    ).drop_nulls()
    # over every gold set's pairs together; the report's table has them per gold set and per system
    correlations = dict(
        warehouse.sql(
            "SELECT signal, avg(spearman) FROM signal_correlations WHERE system = 'all' GROUP BY signal"
        ).iter_rows()
    )
    # a signal constant on this data (e.g. no gate ever fired) has nothing to show
    varying = (
        long.group_by("signal").agg(pl.col("value").n_unique().alias("n")).filter(pl.col("n") > 1)["signal"]
    )
    signals = sorted(varying.to_list(), key=lambda s: (s != "combined", s))
    cols = 4
    rows = max(1, math.ceil(len(signals) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, signal in zip(axes.flat, signals, strict=False):
        for (system,), group in long.filter(pl.col("signal") == signal).group_by(
            "system", maintain_order=True
        ):
            ax.scatter(group["value"], group["chrf"], s=10, alpha=0.6, label=system)
        rho = correlations.get(signal)
        ax.set_title(
            f"{signal}\nSpearman {rho:.2f}" if rho is not None and not math.isnan(rho) else signal, fontsize=9
        )
        ax.set_xlabel("signal value", fontsize=8)
        ax.set_ylabel("gold chrF", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(signals) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Quality signals vs reference chrF against gold French", fontsize=11)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def threshold_ablation(warehouse: Warehouse, thresholds: dict[str, float], path: Path) -> Path:
    table = warehouse.read("threshold_ablation")
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(
        table["threshold"], table["share_of_samples"], "o-", color="#1c7ed6", label="samples kept (share)"
    )
    left.plot(
        table["threshold"],
        table["gold_precision"],
        "s-",
        color="#2b8a3e",
        label="gold precision (chrF >= 60)",
    )
    left.plot(table["threshold"], table["gold_recall"], "^-", color="#f59f00", label="gold recall")
    for tier, value in thresholds.items():
        left.axvline(value, color=TIER_COLOURS[tier], linestyle="--", linewidth=1)
    left.set(
        xlabel="combined-score cut",
        ylabel="share",
        ylim=(0, 1.05),
        title="Threshold ablation: corpus size vs translation quality",
    )
    left.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def build_quality_figures(warehouse: Warehouse, config: QualityConfig) -> list[tuple[str, Path]]:
    folder = warehouse.home / "report"
    made = [
        (
            "Combined score per MT system",
            score_distributions(warehouse, config.thresholds, folder / "combined_by_system.png"),
        ),
        ("Tier sizes", tier_sizes(warehouse, folder / "tier_sizes.png")),
    ]
    if warehouse.partitions("gold_pairs"):
        made.append(("Signals vs gold chrF", signals_vs_gold(warehouse, folder / "signals_vs_gold.png")))
    if warehouse.partitions("threshold_ablation"):
        made.append(
            (
                "Threshold ablation",
                threshold_ablation(warehouse, config.thresholds, folder / "threshold_ablation.png"),
            )
        )
    return made
