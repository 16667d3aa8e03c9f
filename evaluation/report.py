"""The evaluation report: `$VLMFR_HOME/report/index.html`, one self-contained file (tables inline, PNGs
embedded as base64), readable offline in any browser. Sections appear as their stage has run."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from vlmfr_data.store import Warehouse

QUALITY_PNGS = [
    ("Combined quality score per MT system", "combined_by_system.png"),
    ("Tier sizes", "tier_sizes.png"),
    ("Quality signals vs gold chrF", "signals_vs_gold.png"),
    ("Threshold ablation on gold (translations)", "threshold_ablation.png"),
]
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;
color:#212529;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:2px solid #dee2e6;padding-bottom:4px;margin-top:2em}
.meta{color:#6c757d;font-size:.9em}.note{color:#495057;font-size:.92em;max-width:900px}
table{border-collapse:collapse;margin:10px 0;font-size:.85em}
th,td{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfc}figure{margin:14px 0}figcaption{font-weight:600;margin-bottom:4px}
img{max-width:100%;border:1px solid #e9ecef}code{background:#f1f3f5;padding:1px 4px;border-radius:3px}
"""


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list | dict):
        return html.escape(str(value))
    return html.escape(str(value))


def table_html(frame: pl.DataFrame, max_rows: int = 60) -> str:
    if frame.height == 0:
        return "<p class='note'>(nothing yet: this stage has not run on this warehouse)</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    body = []
    for row in frame.head(max_rows).iter_rows(named=True):
        cells = "".join(
            f"<td class='num'>{_fmt(v)}</td>" if c in numeric else f"<td>{_fmt(v)}</td>"
            for c, v in row.items()
        )
        body.append(f"<tr>{cells}</tr>")
    more = (
        f"<p class='note'>{frame.height - max_rows} more rows in the warehouse.</p>"
        if frame.height > max_rows
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def figure_html(caption: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<figure><figcaption>{html.escape(caption)}</figcaption><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'></figure>"


def _query(warehouse: Warehouse, sql: str) -> pl.DataFrame:
    try:
        return warehouse.sql(sql)
    except Exception:  # noqa: BLE001 - a table another stage has not declared yet: the section is skipped
        return pl.DataFrame()


def _interval(accuracy: str = "accuracy") -> str:
    return f"printf('%.3f [%.3f, %.3f]', {accuracy}, ci_low, ci_high)"


def headline(warehouse: Warehouse) -> list[str]:
    """The comparison in sentences, read from `evaluations` (nothing here is written in advance)."""
    table = _query(
        warehouse,
        "SELECT model, model_kind, benchmark, accuracy, ci_low, ci_high FROM evaluations "
        "WHERE benchmark IN ('easy_vqa_en', 'easy_vqa_fr_gold')",
    )
    if table.height == 0:
        return []

    def best(kind: str) -> dict | None:
        rows = table.filter(
            (pl.col("model_kind") == kind)
            & (pl.col("benchmark") == "easy_vqa_fr_gold")
            & ~pl.col("model").str.starts_with("gold:")  # the ceiling is no configuration to choose
        )
        return rows.sort("accuracy", descending=True).row(0, named=True) if rows.height else None

    def fmt(row: dict) -> str:
        return f"{row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"

    lines = []
    english = table.filter((pl.col("model") == "english_vlm") & (pl.col("benchmark") == "easy_vqa_en"))
    direct = best("english_vlm")
    if english.height:
        lines.append(f"English VLM on English (upper bound): {fmt(english.row(0, named=True))}.")
    if direct:
        lines.append(f"English VLM on gold French, no adaptation: {fmt(direct)}.")
    finetuned, translate = best("tier_model"), best("translate_test")
    if finetuned:
        lines.append(
            f"Best finetuned configuration on gold French (mean over seeds): {finetuned['model']} {fmt(finetuned)}."
        )
    ceiling = table.filter(
        pl.col("model").str.starts_with("gold:")
        & (pl.col("model_kind") == "tier_model")
        & (pl.col("benchmark") == "easy_vqa_fr_gold")
    ).sort("accuracy", descending=True)
    if ceiling.height:
        top = ceiling.row(0, named=True)
        lines.append(f"Gold-French ceiling (same recipe on hand-written French): {top['model']} {fmt(top)}.")
    if translate:
        lines.append(f"Best translate-test on gold French: {translate['model']} {fmt(translate)}.")
    if finetuned and translate:
        if translate["ci_low"] > finetuned["ci_high"]:
            verdict = "beats"
        elif translate["ci_high"] < finetuned["ci_low"]:
            verdict = "loses to"
        else:
            verdict = "is within the 95% interval of"
        lines.append(f"Translate-test {verdict} the best finetuned model here.")
    return lines


def verdict_lines(warehouse: Warehouse) -> list[str]:
    """The choices in words, from `comparisons` (paired over items and seeds, Holm-corrected)."""
    from evaluation.compare import VERDICTS, verdict

    lines = []
    for _, label, kinds, prefix in VERDICTS:
        try:
            lines.append(verdict(warehouse, "easy_vqa_fr_gold", kinds, label, prefix).text)
        except Exception as exc:  # noqa: BLE001 - a report section, not a stage: say why it is missing
            lines.append(f"No verdict for {label}: {exc}")
    return lines


def headline_html(warehouse: Warehouse) -> str:
    lines = headline(warehouse) + verdict_lines(warehouse)
    if not lines:
        return ""
    return "<h2>Summary</h2><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def write_html_report(warehouse: Warehouse, figures: list[tuple[str, Path]] | None = None) -> Path:
    from evaluation.figures import build_evaluation_figures

    folder = warehouse.home / "report"
    folder.mkdir(parents=True, exist_ok=True)
    figures = figures if figures is not None else build_evaluation_figures(warehouse, folder)
    by_caption = dict(figures)
    parts: list[str] = [
        f"<h1>vlmfr-data: French adaptation report</h1><p class='meta'>Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} "
        f"from <code>{html.escape(str(warehouse.home))}</code>. Every number below is a query over the warehouse "
        '(<code>vlmfr sql "SELECT * FROM evaluations"</code>).</p>'
    ]

    parts.append(headline_html(warehouse))
    overview = _query(
        warehouse,
        f'SELECT model, model_kind AS kind, benchmark, {_interval()} AS "accuracy [95% CI]", n, '
        "round(seconds, 1) AS seconds, round(1000 * seconds_per_sample, 2) AS ms_per_sample, predictions_cached AS cached, "
        "seeds, round(seed_sd, 3) AS seed_sd "
        "FROM evaluations ORDER BY list_position(['baseline','english_vlm','translate_test','tier_model','sweep','seed_run'], "
        "model_kind), model, benchmark",
    )
    parts.append("<h2>1. Every evaluation</h2>")
    parts.append(
        "<p class='note'>Exact match after answer normalisation (French: NFC, case, punctuation, elision, articles, "
        "number words; accents kept). Intervals: 95% bootstrap over items. <code>easy_vqa_fr_gold</code> uses the "
        "hand-written French; <code>easy_vqa_fr_&lt;system&gt;</code> the test split as that MT system translated it. "
        "ms_per_sample: batched wall time of the run that made the predictions (0 when they came from the cache). "
        "A fine-tuned configuration is trained once per seed: its row is the mean over its <code>seed_run</code> "
        "rows, with a 95% interval from a hierarchical bootstrap (seeds, then items); seed_sd is the spread of the "
        "per-seed accuracies. <code>majority</code>: the per-question-type majority answer, the floor.</p>"
    )
    parts.append(table_html(overview, 80))

    grid = _query(
        warehouse,
        f"SELECT tier_set, method, {_interval()} AS acc FROM evaluations "
        "WHERE model_kind = 'tier_model' AND benchmark = 'easy_vqa_fr_gold'",
    )
    parts.append("<h2>2. Method x tier set on gold French</h2>")
    parts.append(
        "<p class='note'>Mean over seeds [95% interval over seeds and items]. Every run sees the same number of "
        "training examples (the <code>[training.finetune] examples</code> budget). Row <code>gold</code>: the "
        "ceiling, the same recipe on the hand-written French.</p>"
    )
    if grid.height:
        parts.append(table_html(grid.pivot(on="method", index="tier_set", values="acc").sort("tier_set")))
    from training.config import CEILING_METHOD

    ceiling_method = "CASE t.method " + "".join(f"WHEN '{m}' THEN '{c}' " for m, c in CEILING_METHOD.items())
    gap = _query(
        warehouse,
        'SELECT t.tier_set, t.method, round(g.accuracy - t.accuracy, 3) AS "ceiling - tier", '
        "printf('[%.3f, %.3f]', c.ci_low, c.ci_high) AS \"95% CI\", round(c.p_adjusted, 4) AS p_adjusted "
        f"FROM evaluations t JOIN evaluations g ON g.benchmark = t.benchmark AND g.model = 'gold:' || "
        f"{ceiling_method}ELSE t.method END "
        "LEFT JOIN comparisons c ON c.benchmark = t.benchmark AND c.system_a = g.model AND c.system_b = t.model "
        "WHERE t.model_kind = 'tier_model' AND t.tier_set <> 'gold' AND t.benchmark = 'easy_vqa_fr_gold' "
        "ORDER BY t.method, t.tier_set",
    )
    if gap.height:  # comparisons pairs are in name order: 'gold:...' is always system_a
        parts.append("<h3>What the translations cost: gold ceiling minus each tier model (same method)</h3>")
        parts.append(table_html(gap))
    best_pairs = _query(
        warehouse,
        "SELECT system_a, system_b, round(diff, 3) AS diff, printf('[%.3f, %.3f]', ci_low, ci_high) AS \"95% CI\", "
        "round(p_adjusted, 4) AS p_adjusted, significant, seeds_a, seeds_b FROM comparisons "
        "WHERE benchmark = 'easy_vqa_fr_gold' AND kind_a = 'tier_model' AND kind_b = 'tier_model' ORDER BY abs(diff)",
    )
    if best_pairs.height:
        parts.append(
            "<h3>Paired comparisons of the configurations</h3><p class='note'>Bootstrap paired over items (one "
            "draw for every system), seeds resampled within each system; p Holm-corrected over every pair of the "
            "benchmark (<code>SELECT * FROM comparisons</code>). Closest pairs first.</p>"
        )
        parts.append(table_html(best_pairs, 40))
    from evaluation.compare import degenerate_models

    try:
        flagged = degenerate_models(warehouse)
    except Exception:  # noqa: BLE001 - tables of a stage not run yet
        flagged = pl.DataFrame()
    if flagged.height:
        parts.append(
            "<h3>Degenerate models</h3><p class='note'>At or below the majority baseline, or one answer for >= 90% "
            "of items: listed here, left out of every verdict.</p>"
        )
        parts.append(table_html(flagged, 40))
    references = _query(
        warehouse,
        f'SELECT model, benchmark, {_interval()} AS "accuracy [95% CI]", accuracy_answer_en AS "English answer before MT" '
        "FROM evaluations WHERE model_kind IN ('english_vlm', 'translate_test') ORDER BY model_kind, model, benchmark",
    )
    parts.append(table_html(references))
    for caption in ("Accuracy by method and tier set", "Accuracy per question type"):
        if caption in by_caption:
            parts.append(figure_html(caption, by_caption[caption]))

    parts.append("<h2>3. Translate-test per MT system</h2>")
    parts.append(
        "<p class='note'>French question -> English with the MT system's FR->EN partner (Apertium: "
        "<code>fr-es</code> then <code>spa-eng</code>; the causal LM prompted the other way), the English VLM answers, "
        "the answer goes back to French through the same platform MT code (cached per distinct string, spans "
        "protected). The diamond / last column is the English answer scored against the English reference: the gap to "
        "the final accuracy is what the answer's translation costs.</p>"
    )
    if "Translate-test per MT system" in by_caption:
        parts.append(figure_html("Translate-test per MT system", by_caption["Translate-test per MT system"]))
    parts.append(
        table_html(
            _query(
                warehouse,
                "SELECT system, source_lang || '->' || target_lang AS direction, count(*) AS strings, count(error) AS errors, "
                "round(avg(seconds) * 1000, 1) AS ms_per_string FROM eval_translations GROUP BY ALL ORDER BY ALL",
            )
        )
    )
    parts.append(
        table_html(
            _query(
                warehouse,
                "SELECT model, question, question_mt_en, prediction_en, prediction, answer, count(*) AS items "
                "FROM eval_predictions WHERE model LIKE 'translate_test:%' AND NOT correct "
                "GROUP BY ALL ORDER BY items DESC LIMIT 12",
            )
        )
    )

    parts.append("<h2>4. Latency: direct French inference vs translate-test</h2>")
    parts.append(
        "<p class='note'>Items answered one at a time (batch 1), MT engines called without the cache: what a user "
        "waits for per question. batched_s_per_sample is the whole benchmark run batched, for scale.</p>"
    )
    if "Latency: direct vs translate-test" in by_caption:
        parts.append(
            figure_html("Latency: direct vs translate-test", by_caption["Latency: direct vs translate-test"])
        )
    parts.append(
        table_html(
            _query(
                warehouse,
                "SELECT mode, mt_system, samples, round(1000 * translate_question_s, 2) AS question_mt_ms, "
                "round(1000 * model_s, 2) AS model_ms, round(1000 * translate_answer_s, 2) AS answer_mt_ms, "
                "round(1000 * total_s, 2) AS total_ms, round(1000 * total_p90_s, 2) AS p90_ms, "
                "round(1000 * batched_seconds_per_sample, 3) AS batched_ms_per_sample, device FROM eval_latency ORDER BY mode, mt_system",
            )
        )
    )

    parts.append("<h2>5. Threshold sweep</h2>")
    parts.append(
        "<p class='note'>Per combined-score cut: the training samples kept (every segment's best translation scores at "
        "least the cut, no gate), the occurrence-weighted share of their translations that are gold-high (chrF >= the "
        "configured gold cut against the hand-written French), and the accuracy on gold French of LoRA models trained "
        "on them with the tier models' recipe and example budget, one per seed (mean, 95% interval over seeds and "
        "items). Points run from keep-all to the strictest non-empty cut; the line is the gold ceiling.</p>"
    )
    if "Threshold sweep" in by_caption:
        parts.append(figure_html("Threshold sweep", by_caption["Threshold sweep"]))
    parts.append(
        table_html(
            _query(
                warehouse,
                "SELECT point, round(cut, 4) AS cut, samples, share, occurrences, gold_precision, gold_chrf, method, "
                "steps, seeds, round(train_seconds, 1) AS train_seconds, final_loss, accuracy, ci_low, ci_high, "
                "round(seed_sd, 3) AS seed_sd FROM sweep_results ORDER BY cut",
            )
        )
    )

    parts.append("<h2>6. Do MT-translated benchmarks rank models like gold?</h2>")
    from evaluation.pipeline import ranking_agreement

    try:
        parts.append(table_html(ranking_agreement(warehouse)))
    except Exception:  # noqa: BLE001
        parts.append("<p class='note'>(not evaluated yet)</p>")
    if "MT benchmarks vs gold" in by_caption:
        parts.append(figure_html("MT benchmarks vs gold", by_caption["MT benchmarks vs gold"]))

    parts.append("<h2>7. Training</h2>")
    runs = _query(warehouse, "SELECT * FROM training_runs")
    if runs.height:
        keep = [c for c in ("run_id", "model", "tier_set", "method", "seed", "samples", "steps", "epochs",
                            "selected_step", "dev_accuracy", "final_loss", "seconds", "tokens_per_s",
                            "trainable_params", "total_params") if c in runs.columns]  # fmt: skip
        parts.append(table_html(runs.select(keep).sort("model"), 80))
    parts.append(
        "<p class='note'>Every run is evaluated on the dev split (held-out train images, gold French; the English "
        "VLM on the same images in English) during training and keeps the weights of its best dev step "
        "(<code>selected_step</code>); the test split is never read to choose anything.</p>"
    )
    for caption in ("Dev-accuracy learning curves", "Loss curves"):
        if caption in by_caption:
            parts.append(figure_html(caption, by_caption[caption]))

    parts.append("<h2>8. Translation quality against gold French</h2>")
    parts.append(table_html(_query(warehouse, "SELECT * FROM gold_summary ORDER BY gold_set, system")))
    for caption, name in QUALITY_PNGS:
        if (folder / name).exists():
            parts.append(figure_html(caption, folder / name))

    parts.append(
        "<h2>Explore</h2><p class='note'><code>vlmfr sql \"SELECT model, benchmark, accuracy FROM evaluations\"</code>, "
        "errors: <code>SELECT question, answer, prediction FROM eval_predictions WHERE NOT correct</code>, per type: "
        "<code>SELECT * FROM evaluation_by_type</code>.</p>"
    )
    page = f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>vlmfr-data report</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    path = folder / "index.html"
    tmp = folder / f".index-{datetime.now(UTC).timestamp():.0f}.html"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
