"""The run report: what is in the warehouse now, as Markdown under `VLMFR_HOME/report.md`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from vlmfr_data import markdown
from vlmfr_data.store import Warehouse

SECTIONS: list[tuple[str, str]] = [
    (
        "Samples per dataset and split",
        "SELECT dataset, split, count(*) AS samples, sum(n_turns) AS turns FROM samples GROUP BY ALL ORDER BY ALL",
    ),
    (
        "Quarantined records",
        "SELECT dataset, field, count(*) AS records, any_value(reason) AS example FROM quarantine GROUP BY ALL ORDER BY ALL",
    ),
    (
        "Segments by kind",
        "SELECT kind, count(*) AS distinct_segments, sum(n_occurrences)::BIGINT AS occurrences FROM segments GROUP BY ALL ORDER BY ALL",
    ),
]


def write_report(warehouse: Warehouse, extra_sections: list[tuple[str, str]] | None = None) -> Path:
    parts = [
        f"# vlmfr-data report\n\nWarehouse: `{warehouse.db_path}`  \nWritten: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
    ]
    for title, query in SECTIONS + (extra_sections or []):
        parts.append(f"## {title}\n\n{markdown.table(warehouse.sql(query), max_rows=50)}\n")
    path = warehouse.home / "report.md"
    path.write_text("\n".join(parts))
    return path
