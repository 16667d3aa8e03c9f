"""Loss curve figure of a training run (PNG; shown as Dagster metadata and kept in the model folder)."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def loss_curve_png(curve: pl.DataFrame, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for stage in curve["stage"].unique(maintain_order=True).to_list() if curve.height else []:
        part = curve.filter((pl.col("stage") == stage) & pl.col("loss").is_not_null())
        ax.plot(part["step"].to_list(), part["loss"].to_list(), label=f"stage {stage}")
    dev = (
        curve.filter(pl.col("dev_accuracy").is_not_null())
        if "dev_accuracy" in curve.columns
        else curve.head(0)
    )
    if dev.height:
        right = ax.twinx()
        right.plot(dev["step"].to_list(), dev["dev_accuracy"].to_list(), "o-", color="#e8590c", markersize=3)
        best = dev.sort("dev_accuracy", descending=True).row(0, named=True)
        right.axvline(best["step"], color="#e8590c", linestyle=":", alpha=0.6)
        right.set_ylabel("dev accuracy (kept: dotted)", color="#e8590c")
        right.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (answer tokens)")
    ax.set_yscale("log")
    ax.set_title(title)
    if curve.height and curve["stage"].n_unique() > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
