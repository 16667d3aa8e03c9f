"""Evaluation figures (PNG, matplotlib Agg). Each returns the path it wrote, or None when the warehouse
holds nothing to plot yet (a stage that has not run)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vlmfr_data.store import Warehouse  # noqa: E402

METHOD_COLOURS = ["#1c7ed6", "#f76707", "#2b8a3e", "#ae3ec9", "#e03131", "#0c8599"]
REFERENCE_STYLES = {"english_vlm": ("#495057", "--"), "translate_test": ("#c92a2a", ":")}


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _errors(frame: pl.DataFrame) -> list[list[float]]:
    return [
        (frame["accuracy"] - frame["ci_low"]).clip(lower_bound=0).to_list(),
        (frame["ci_high"] - frame["accuracy"]).clip(lower_bound=0).to_list(),
    ]


def accuracy_by_method(warehouse: Warehouse, path: Path, benchmark: str = "easy_vqa_fr_gold") -> Path | None:
    """Grouped bars: tier set x method on French gold, with 95% intervals; references as lines."""
    table = warehouse.sql(f"SELECT * FROM evaluations WHERE benchmark = '{benchmark}'")
    models = table.filter(pl.col("model_kind") == "tier_model").sort("tier_set", "method")
    if models.height == 0:  # nothing trained per tier yet: the references alone are in the tables
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    tier_sets = models["tier_set"].unique(maintain_order=True).to_list()
    methods = sorted(models["method"].unique().to_list())
    width = 0.8 / max(len(methods), 1)
    for j, method in enumerate(methods):
        sub = models.filter(pl.col("method") == method)
        xs = [tier_sets.index(t) + j * width for t in sub["tier_set"].to_list()]
        ax.bar(
            xs, sub["accuracy"], width, yerr=_errors(sub), capsize=3, label=method,
            color=METHOD_COLOURS[j % len(METHOD_COLOURS)],
        )  # fmt: skip
        for x, acc in zip(xs, sub["accuracy"].to_list(), strict=True):
            ax.text(x, acc + 0.02, f"{acc:.2f}", ha="center", fontsize=7)
    references = table.filter(pl.col("model_kind").is_in(["english_vlm", "translate_test"]))
    for row in references.iter_rows(named=True):
        colour, style = REFERENCE_STYLES[row["model_kind"]]
        label = "English VLM, no adaptation" if row["model_kind"] == "english_vlm" else row["model"]
        ax.axhline(
            row["accuracy"],
            color=colour,
            linestyle=style,
            linewidth=1.2,
            label=f"{label}: {row['accuracy']:.2f}",
        )
    english = warehouse.sql(
        "SELECT accuracy FROM evaluations WHERE model = 'english_vlm' AND benchmark = 'easy_vqa_en'"
    )
    if english.height:
        ax.axhline(
            english.item(),
            color="#2b8a3e",
            linestyle="-.",
            linewidth=1,
            label=f"English VLM on English: {english.item():.2f}",
        )
    if tier_sets:
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(tier_sets))], tier_sets)
    ax.set(ylim=(0, 1.08), ylabel="exact-match accuracy (95% CI)", xlabel="training tier set",
           title=f"Accuracy on {benchmark} by method and tier set")  # fmt: skip
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    return _save(fig, path)


def translate_test(warehouse: Warehouse, path: Path) -> Path | None:
    table = warehouse.sql(
        "SELECT * FROM evaluations WHERE model_kind = 'translate_test' OR "
        "(model = 'english_vlm' AND benchmark IN ('easy_vqa_fr_gold', 'easy_vqa_en')) ORDER BY model_kind, model"
    )
    if table.filter(pl.col("model_kind") == "translate_test").height == 0:
        return None
    labels = [
        "English VLM on English" if r["benchmark"] == "easy_vqa_en"
        else ("English VLM on French (direct)" if r["model_kind"] == "english_vlm" else r["model"])
        for r in table.iter_rows(named=True)
    ]  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ys = list(range(table.height))
    ax.barh(
        ys, table["accuracy"], xerr=_errors(table), capsize=3, color="#1c7ed6", label="final answer (French)"
    )
    before = table["accuracy_answer_en"].to_list()
    ax.scatter([b if b is not None else float("nan") for b in before], ys, marker="D", color="#f76707", zorder=3,
               label="English answer before MT back")  # fmt: skip
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set(
        xlim=(0, 1.05), xlabel="accuracy on easy_vqa_fr_gold (95% CI)", title="Translate-test per MT system"
    )
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def latency(warehouse: Warehouse, path: Path) -> Path | None:
    table = warehouse.sql("SELECT * FROM eval_latency ORDER BY mode, mt_system")
    if table.height == 0:
        return None
    labels = [
        "direct (English VLM on French)" if m == "direct" else f"translate-test {s}"
        for m, s in table.select("mode", "mt_system").iter_rows()
    ]
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.6 * table.height))
    left = [0.0] * table.height
    for column, colour, label in [
        ("translate_question_s", "#f76707", "question FR->EN"),
        ("model_s", "#1c7ed6", "English VLM"),
        ("translate_answer_s", "#ae3ec9", "answer EN->FR"),
    ]:
        values = [v * 1000 for v in table[column].to_list()]
        ax.barh(labels, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:.0f} ms", va="center", fontsize=8)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, max(left) * 3)  # room for the total beside the longest bar
    ax.set(xlabel="ms per sample, batch 1 (symlog)", title="Per-sample latency: direct vs translate-test")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, frameon=False)
    return _save(fig, path)


def threshold_curve(warehouse: Warehouse, path: Path) -> Path | None:
    """Accuracy (mean over seeds, 95% interval over seeds and items) against the cut, with the share of
    training samples kept and their gold precision; the gold ceiling (same method) as a line and
    degenerate points marked, not plotted as results."""
    from evaluation.compare import ceiling_model, degenerate_models

    table = warehouse.sql("SELECT * FROM sweep_results ORDER BY cut")
    if table.height == 0:
        return None
    bad = set(degenerate_models(warehouse)["model"].to_list())
    table = table.with_columns(
        pl.col("point")
        .map_elements(lambda key: any(m.startswith(f"sweep:{key}@") for m in bad), return_dtype=pl.Boolean)
        .alias("degenerate")
    )
    fig, left = plt.subplots(figsize=(8, 4.2))
    trained = table.filter(pl.col("accuracy").is_not_null())
    good, flagged = trained.filter(~pl.col("degenerate")), trained.filter(pl.col("degenerate"))
    if trained.height:
        seeds = int(cast(int, trained["seeds"].drop_nulls().min()) or 1) if "seeds" in trained.columns else 1
        left.plot(trained["cut"], trained["accuracy"], "-", color="#1c7ed6", alpha=0.4)
        left.errorbar(good["cut"], good["accuracy"], yerr=_errors(good), fmt="o", color="#1c7ed6", capsize=3,
                      label=f"accuracy on easy_vqa_fr_gold ({seeds} seeds, 95% CI seeds x items)")  # fmt: skip
        if flagged.height:
            left.scatter(flagged["cut"], flagged["accuracy"], marker="x", color="#c92a2a", zorder=3,
                         label="degenerate (<= majority baseline or collapsed)")  # fmt: skip
    ceiling = warehouse.sql(
        "SELECT accuracy, ci_low, ci_high FROM evaluations WHERE benchmark = 'easy_vqa_fr_gold' "
        f"AND model = '{ceiling_model(table['method'][0])}'"
    )
    if ceiling.height:
        row = ceiling.row(0, named=True)
        left.axhline(
            row["accuracy"], color="#862e9c", linestyle="-.", label=f"gold ceiling ({row['accuracy']:.3f})"
        )
        left.axhspan(row["ci_low"], row["ci_high"], color="#862e9c", alpha=0.08)
    left.plot(table["cut"], table["share"], "s--", color="#2b8a3e", label="training samples kept (share)")
    if table["gold_precision"].drop_nulls().len():
        left.plot(table["cut"], table["gold_precision"], "^:", color="#f59f00",
                  label="gold precision (occurrence-weighted)")  # fmt: skip
    for row in table.iter_rows(named=True):
        left.annotate(f"{row['samples']:,}", (row["cut"], row["share"]), fontsize=7,
                      textcoords="offset points", xytext=(0, 6))  # fmt: skip
    left.set(xlabel="combined-score cut (0 = keep every ungated sample)", ylabel="share / accuracy",
             ylim=(0, 1.05), title="Threshold sweep: corpus size, translation quality and accuracy")  # fmt: skip
    left.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def loss_table(warehouse: Warehouse) -> tuple[str, pl.DataFrame] | None:
    """Training's loss-curve table: any table with run id, step and loss columns."""
    for name, spec in warehouse.catalog.tables.items():
        if {"run_id", "step", "loss"} <= set(spec.schema) and warehouse.partitions(name):
            return name, warehouse.read(name)
    return None


def loss_curves(warehouse: Warehouse, path: Path) -> Path | None:
    found = loss_table(warehouse)
    if found is None:
        return None
    _, losses = found
    label = "model" if "model" in losses.columns else "run_id"
    fig, ax = plt.subplots(figsize=(8, 4))
    for (name,), group in losses.sort(label, "step").group_by(label, maintain_order=True):
        ax.plot(group["step"], group["loss"], linewidth=1.2, label=str(name)[:40])  # two-stage: A then B
    ax.set(xlabel="step", ylabel="training loss (log)", title="Loss curves", yscale="log")
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)


def dev_curves(warehouse: Warehouse, path: Path) -> Path | None:
    """Dev accuracy against the training step of every run chosen on a dev set, one panel per method;
    the dot on each curve is the step whose weights the model kept."""
    found = loss_table(warehouse)
    if found is None or "dev_accuracy" not in found[1].columns:
        return None
    curves = found[1].filter(pl.col("dev_accuracy").is_not_null())
    runs = warehouse.sql("SELECT run_id, method, selected_step FROM training_runs WHERE dev IS NOT NULL")
    curves = curves.join(runs, on="run_id", how="inner")
    if curves.height == 0:
        return None
    methods = sorted(curves["method"].unique().to_list())
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.4), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        part = curves.filter(pl.col("method") == method).sort("model", "step")
        for (name,), group in part.group_by("model", maintain_order=True):
            line = ax.plot(
                group["step"], group["dev_accuracy"], linewidth=1, label=str(name).split(":", 1)[-1][:34]
            )
            kept = group.filter(pl.col("step") == pl.col("selected_step"))
            if kept.height:
                ax.plot(kept["step"], kept["dev_accuracy"], "o", color=line[0].get_color(), markersize=4)
        ax.set(title=method, xlabel="step", ylim=(0, 1))
        ax.legend(fontsize=5)
    axes[0][0].set_ylabel("dev accuracy (held-out train images)")
    fig.suptitle("Dev-accuracy learning curves (dot: the checkpoint kept)", fontsize=10)
    return _save(fig, path)


def by_question_type(warehouse: Warehouse, path: Path, benchmark: str = "easy_vqa_fr_gold") -> Path | None:
    table = warehouse.sql(
        f"SELECT model, t.question_type, t.accuracy FROM (SELECT model, unnest(by_type) AS t FROM evaluations "
        f"WHERE benchmark = '{benchmark}' AND model_kind <> 'seed_run') ORDER BY model"
    )
    if table.height == 0:
        return None
    wide = table.pivot(on="question_type", index="model", values="accuracy").sort("model")
    types = [c for c in wide.columns if c != "model"]
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(types), 0.8 + 0.38 * wide.height))
    values = wide.select(types).to_numpy()
    image = ax.imshow(values, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(types)), types, fontsize=8)
    ax.set_yticks(range(wide.height), wide["model"].to_list(), fontsize=8)
    ax.set_title(f"Accuracy per question type on {benchmark}", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04)
    return _save(fig, path)


def mt_benchmark_vs_gold(warehouse: Warehouse, path: Path) -> Path | None:
    table = warehouse.sql(
        "SELECT e.model, e.benchmark, e.accuracy, g.accuracy AS gold FROM evaluations e "
        "JOIN evaluations g ON g.model = e.model AND g.benchmark = 'easy_vqa_fr_gold' "
        "WHERE e.benchmark LIKE 'easy_vqa_fr_%' AND e.benchmark <> 'easy_vqa_fr_gold' "
        "AND e.model_kind IN ('english_vlm', 'tier_model')"
    )
    if table.height == 0:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for j, ((benchmark,), group) in enumerate(table.group_by("benchmark", maintain_order=True)):
        ax.scatter(
            group["gold"], group["accuracy"], color=METHOD_COLOURS[j % len(METHOD_COLOURS)], label=benchmark
        )
        for row in group.iter_rows(named=True):
            ax.annotate(
                row["model"],
                (row["gold"], row["accuracy"]),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
    ax.plot([0, 1], [0, 1], color="#adb5bd", linewidth=1)
    ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="accuracy on gold French", ylabel="accuracy on MT-translated benchmark",
           title="Does an MT benchmark rank models like gold?")  # fmt: skip
    ax.legend(fontsize=7)
    return _save(fig, path)


def build_evaluation_figures(warehouse: Warehouse, folder: Path | None = None) -> list[tuple[str, Path]]:
    folder = folder or warehouse.home / "report"
    makers = [
        ("Accuracy by method and tier set", accuracy_by_method, "eval_accuracy_by_method.png"),
        ("Translate-test per MT system", translate_test, "eval_translate_test.png"),
        ("Latency: direct vs translate-test", latency, "eval_latency.png"),
        ("Threshold sweep", threshold_curve, "eval_threshold_sweep.png"),
        ("Loss curves", loss_curves, "eval_loss_curves.png"),
        ("Dev-accuracy learning curves", dev_curves, "eval_dev_curves.png"),
        ("Accuracy per question type", by_question_type, "eval_by_question_type.png"),
        ("MT benchmarks vs gold", mt_benchmark_vs_gold, "eval_mt_vs_gold.png"),
    ]
    made = []
    for caption, maker, name in makers:
        path = maker(warehouse, folder / name)
        if path is not None:
            made.append((caption, path))
    return made
