"""The run report: `VLMFR_HOME/report/report.md` plus PNG figures, from whatever the warehouse holds now.

Sections appear as their stage has run: ingest and segments, MT systems, quality (signals, tiers,
gold evaluation, figures), corpora.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from vlmfr_data import markdown
from vlmfr_data.store import Warehouse
from vlmfr_data.tiers import tier_order_sql

INGEST = [
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
        "SELECT kind, count(*) AS distinct_segments, sum(n_occurrences)::BIGINT AS occurrences FROM segments "
        "GROUP BY ALL ORDER BY ALL",
    ),
]
MT = [
    (
        "MT systems",
        "SELECT system, any_value(system_version) AS version, count(*) AS segments, count(error) AS errors, "
        "count(*) FILTER (WHERE NOT spans_ok) AS span_flags, round(sum(seconds), 1) AS engine_seconds, "
        "round(count(*) / nullif(sum(seconds), 0), 1) AS segments_per_s FROM translations GROUP BY 1 ORDER BY 1",
    ),
    (
        "Sample translations (most frequent segments)",
        "SELECT s.text_en, t.system, t.text_fr FROM translations t JOIN segments s USING (segment_id) "
        "WHERE t.error IS NULL ORDER BY s.n_occurrences DESC, s.segment_id, t.system LIMIT 16",
    ),
]
QUALITY = [
    (
        "Quality signals",
        "SELECT signal, status, weight, pairs_scored, new_pairs, round(seconds, 1) AS seconds, "
        "coalesce(reason, description) AS notes FROM quality_signals ORDER BY weight DESC, signal",
    ),
    (
        "Translations per tier and MT system",
        "SELECT system, tier, count(*) AS segments, "
        "round(avg(combined), 3) AS avg_combined, count(*) FILTER (WHERE is_best) AS chosen_as_best "
        "FROM translation_quality GROUP BY system, tier "
        f"ORDER BY system, {tier_order_sql()}",
    ),
    (
        "Hard gates",
        "SELECT system, gate, count(*) AS translations FROM "
        "(SELECT system, unnest(gates) AS gate FROM translation_quality) GROUP BY system, gate ORDER BY system, gate",
    ),
    ("French samples per tier", "SELECT * FROM tier_summary"),
]
GOLD = [
    (
        "Against gold French, per gold set: reference chrF / BLEU and high-quality share per MT system; "
        "`selected` = the chosen translations, `oracle` = the best engine per segment (the ceiling), "
        "`consensus` = the translation agreeing most with the other engines",
        "SELECT gold_set, system, pairs, round(chrf, 1) AS chrf, round(bleu, 1) AS bleu, "
        "round(100 * share_gold_high, 1) AS pct_gold_high, round(100 * share_gold_high_occ, 1) AS pct_gold_high_occ, "
        "round(100 * share_high_tier, 1) AS pct_high_tier, round(100 * share_high_tier_occ, 1) AS pct_high_tier_occ, "
        "round(100 * share_rejected, 1) AS pct_rejected FROM gold_summary "
        "ORDER BY gold_set, system IN ('selected', 'oracle', 'consensus'), chrf DESC",
    ),
    (
        "Chosen translations per tier: gold precision per string and per occurrence (what training sees)",
        "SELECT * FROM gold_tiers",
    ),
    (
        "Spearman correlation of each signal with gold sentence chrF, per gold set: over all systems, and "
        "within each system (columns), per string and per occurrence (`_occ`)",
        "SELECT gold_set, signal, "
        "max(pairs) FILTER (WHERE system = 'all') AS pairs, "
        "round(max(spearman) FILTER (WHERE system = 'all'), 3) AS spearman_all, "
        "round(max(spearman_occ) FILTER (WHERE system = 'all'), 3) AS spearman_all_occ, "
        "string_agg(system || ' ' || coalesce(round(spearman, 2)::VARCHAR, '-'), ', ' ORDER BY system) "
        "FILTER (WHERE system <> 'all') AS within_system "
        "FROM signal_correlations GROUP BY gold_set, signal ORDER BY gold_set, signal = 'combined' DESC, "
        "spearman_all DESC NULLS LAST",
    ),
    (
        "Threshold ablation (samples kept and gold precision per combined-score cut)",
        "SELECT threshold, samples, round(100 * share_of_samples, 1) AS pct_samples, translations_kept, "
        "round(gold_precision, 3) AS gold_precision, round(gold_precision_occ, 3) AS gold_precision_occ, "
        "round(gold_recall, 3) AS gold_recall FROM threshold_ablation",
    ),
    (
        "Worst translations kept as best (lowest gold chrF)",
        "SELECT g.text_en, g.system, g.text_fr, g.reference, round(g.chrf, 1) AS chrf, g.tier FROM gold_pairs g "
        "JOIN translation_quality q USING (segment_id, system) WHERE q.is_best ORDER BY chrf LIMIT 10",
    ),
]


def write_report(
    warehouse: Warehouse,
    figures: list[tuple[str, Path]] | None = None,
    without_gold: list[str] | None = None,
    extra_sections: list[str] | None = None,
) -> Path:
    """`report.md`; `without_gold` names the datasets that have no configured gold reference;
    `extra_sections` are Markdown sections of other stages (the expert review), added before the figures."""
    folder = warehouse.home / "report"
    folder.mkdir(parents=True, exist_ok=True)
    parts = [
        f"# vlmfr-data report\n\nWarehouse: `{warehouse.db_path}`  \n"
        f"Written: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
    ]
    groups = [
        ("Ingest", INGEST, "samples"),
        ("Translation", MT, "translations"),
        ("Quality", QUALITY, "translation_quality"),
        ("Gold evaluation", GOLD, "gold_summary"),
    ]
    for heading, sections, needs in groups:
        if not warehouse.partitions(needs):
            continue
        parts.append(f"# {heading}\n")
        for title, query in sections:
            parts.append(f"## {title}\n\n{markdown.table(warehouse.sql(query), max_rows=50)}\n")
    if without_gold:
        parts.append(
            "# Gold references missing\n\n"
            + "".join(f"- no gold configured for {name}\n" for name in without_gold)
            + "\nAdd `[[gold]]` entries (`dataset`, `path` to a CSV with `text_en,text_fr`) to vlmfr.toml.\n"
        )
    parts += [section.rstrip() + "\n" for section in extra_sections or [] if section]
    for caption, path in figures or []:
        parts.append(
            f"## {caption}\n\n![{caption}]({path.relative_to(folder) if path.is_relative_to(folder) else path})\n"
        )
    corpora = sorted((warehouse.home / "corpora").glob("*/manifest.json"))
    if corpora:
        parts.append("# French corpora\n\n| corpus | samples | folder |\n|---|---|---|")
        for manifest_path in corpora:
            manifest = json.loads(manifest_path.read_text())
            parts.append(f"| {manifest['corpus']} | {manifest['samples']} | `{manifest_path.parent}` |")
    path = folder / "report.md"
    path.write_text("\n".join(parts) + "\n")
    return path
