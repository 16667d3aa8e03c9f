"""Small Markdown renderers for reports and Dagster metadata (no extra dependency)."""

from __future__ import annotations

import polars as pl


def table(df: pl.DataFrame, max_rows: int = 20, max_chars: int = 80) -> str:
    if df.width == 0:
        return "_(no columns)_"
    shown = df.head(max_rows)

    def cell(value: object) -> str:
        text = "" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
        text = text.replace("|", "\\|").replace("\n", "⏎")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * shown.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()]
    if df.height > max_rows:
        lines.append(f"\n_{df.height - max_rows} more rows_")
    return "\n".join(lines)
