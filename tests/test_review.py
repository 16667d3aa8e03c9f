"""Expert review loop: queue priorities, export/import round trip, validation, human translations that
outrank machines and re-tier samples, agreement figures, and the review page in a real headless browser."""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from PIL import Image

from tests.conftest import fixture_translations, write_json
from vlmfr_data.config import DatasetConfig
from vlmfr_data.ingest import ingest_dataset
from vlmfr_data.quality.config import QualityConfig
from vlmfr_data.quality.french_samples import build_french_samples
from vlmfr_data.quality.scoring import combine_scores, score_translations
from vlmfr_data.review.agreement import agreement_table, review_section, suggest_high_threshold
from vlmfr_data.review.cli import add_parser
from vlmfr_data.review.export import csv_rows, write_csv
from vlmfr_data.review.importer import import_review_files
from vlmfr_data.review.queue import QueueSettings, budget_curve, build_queue, symmetric_chrf
from vlmfr_data.review.stages import export_review
from vlmfr_data.segments import build_sample_segments, build_segments
from vlmfr_data.store import Warehouse

CONVERSATIONS = [
    ("<image>\nWhat color is the shape?", "red"),
    ("What color is the shape?", "blue"),
    ("What color is the shape?", "red"),
    ("Is there a circle?", "yes"),
    ("Is there a circle?", "yes"),
    ("Is there a circle?", "no"),
    ("How many circles are there?", "There are 3 circles."),
    ("What is it?", "The circle is blue."),
]
SYSTEM_A = {
    "What color is the shape?": "De quelle couleur est la forme ?",
    "red": "rouge",
    "blue": "bleu",
    "Is there a circle?": "Y a-t-il un cercle ?",
    "yes": "oui",
    "no": "ne",
    "How many circles are there?": "Combien de cercles y a-t-il ?",
    "There are 3 circles.": "Il y a 3 cercles.",
    "What is it?": "Qu'est-ce que c'est ?",
    "The circle is blue.": "The circle is blue.",  # an English copy: gated
}
SYSTEM_B = {
    **SYSTEM_A,
    "What color is the shape?": "Quelle couleur a la forme ?",
    "blue": "bleue",
    "yes": "soi",
    "no": "non",
    "How many circles are there?": "Combien de cercles ?",
}
# Only cheap local signals; every ungated translation is `high`, so a sample's tier moves with its gates.
QUALITY = QualityConfig(
    signals={
        name: {} for name in ("length_ratio", "repetition", "spans_intact", "empty_output", "source_copy")
    },
    thresholds={"high": 0.0, "medium": 0.0, "low": 0.0},
)


def _recut(warehouse: Warehouse) -> pl.DataFrame:
    score_translations(warehouse, QUALITY)
    quality = combine_scores(warehouse, QUALITY)
    build_french_samples(warehouse, "toy")
    return quality


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review_base")
    (root / "images").mkdir()
    records = []
    for i, (question, answer) in enumerate(CONVERSATIONS):
        Image.new("RGB", (8, 8), (200, 10, 10)).save(root / "images" / f"{i}.png")
        records.append(
            {
                "id": f"s{i}",
                "image": f"{i}.png",
                "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}],
            }
        )
    path = write_json(root / "toy.json", records)
    warehouse = Warehouse(root / "home")
    ingest_dataset(
        warehouse, DatasetConfig("toy", "llava", {"json": str(path), "image_root": str(root / "images")})
    )
    build_sample_segments(warehouse, "toy")
    build_segments(warehouse)
    fixture_translations(warehouse, "mt_a", SYSTEM_A, version="v1")
    fixture_translations(warehouse, "mt_b", SYSTEM_B, version="v1")
    _recut(warehouse)
    # the review tables exist (empty) in the copy each test starts from: a first write of a table
    # rewrites the DuckDB views file, which would otherwise happen again in every test
    for table in ("review_queue", "expert_reviews"):
        warehouse.write_partition(table, pl.DataFrame(schema=warehouse.catalog.tables[table].schema), "seed")
    return root / "home"


@pytest.fixture
def warehouse(base_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    home = tmp_path / "home"
    shutil.copytree(base_home, home)
    monkeypatch.setenv("VLMFR_HOME", str(home))
    return Warehouse(home)


def _segment_ids(warehouse: Warehouse) -> dict[str, str]:
    return dict(warehouse.read("segments").select("text_en", "segment_id").iter_rows())


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _filled(export_csv: Path, edits: dict[str, dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
    """The exported CSV with reviewer columns set on the rows whose English is a key of `edits`."""
    columns, rows = _read_csv(export_csv)
    for row in rows:
        if row["text_en"] in edits:
            row.update({"reviewer": "Maya", "reviewed_at": "2026-11-23", **edits[row["text_en"]]})
    return columns, rows


def _export_csv(warehouse: Warehouse, folder: Path, budget: int = 10) -> Path:
    """The export's CSV alone (no page, no figure): what the validation tests start from."""
    folder.mkdir(parents=True, exist_ok=True)
    columns, rows = csv_rows(build_queue(warehouse, QueueSettings(budget=budget, stratified_share=0.0)))
    write_csv(folder / "review.csv", columns, rows)
    return folder / "review.csv"


def _counts(warehouse: Warehouse) -> tuple[int, int]:
    return warehouse.read("expert_reviews").height, warehouse.read("translations").height


# ------------------------------------------------------------------------------------------ queue
def test_queue_priority_stratified_share_context_and_budget_curve(warehouse: Warehouse) -> None:
    queue = build_queue(warehouse, QueueSettings(budget=6, stratified_share=0.5, seed=1))
    assert queue.height == 6 and queue["segment_id"].n_unique() == 6
    assert queue["selection"].value_counts().sort("selection")["count"].to_list() == [3, 3]
    priority = queue.filter(pl.col("selection") == "priority")
    # the gated copy (uncertainty 1) and the most used, most disputed strings come first
    assert priority["priority"].is_sorted(descending=True)
    assert "The circle is blue." in priority["text_en"].to_list()
    gated = priority.filter(pl.col("text_en") == "The circle is blue.").row(0, named=True)
    assert gated["uncertainty"] == 1.0 and gated["priority"] == gated["n_occurrences"]
    # uncertainty formula: 0.5 (1 - combined) + 0.5 (1 - agreement / 100) where another engine exists
    for row in queue.filter(
        pl.col("engine_agreement").is_not_null() & (pl.col("selection") == "priority")
    ).iter_rows(named=True):
        assert row["uncertainty"] == pytest.approx(
            0.5 * (1 - row["combined"]) + 0.5 * (1 - row["engine_agreement"] / 100)
        )
    # stratified picks come from distinct (system, tier) strata and rate that stratum's system
    stratified = queue.filter(pl.col("selection") == "stratified")
    # (the gated copies' strata are empty: the copy is a priority pick, and a segment is queued once)
    assert set(stratified["stratum"]) == {"mt_a/high", "mt_b/high"}
    assert all(s.startswith(r + "/") for s, r in stratified.select("stratum", "rated_system").iter_rows())
    # an answer's context is its most frequent question
    answers = queue.filter(pl.col("kind") == "answer")
    contexts = dict(
        build_queue(warehouse, QueueSettings(budget=10, stratified_share=0.0))
        .select("text_en", "context")
        .iter_rows()
    )
    assert contexts["yes"].startswith("Is there a circle? (100%")
    assert contexts["red"].startswith("What color is the shape? (100%")
    assert answers.height >= 0
    curve = budget_curve(warehouse, queue)
    total = warehouse.read("segments")["n_occurrences"].sum()
    assert curve["queue_coverage"][-1] == pytest.approx(queue["n_occurrences"].sum() / total)
    assert (
        curve["queue_coverage"].is_sorted()
        and (curve["most_frequent_coverage"] >= curve["queue_coverage"]).all()
    )
    assert symmetric_chrf("oui", "oui") == pytest.approx(100.0) and symmetric_chrf("oui", "non") < 20


# ---------------------------------------------------------------------------- export / import loop
def test_export_import_round_trip_human_wins_and_retiers(warehouse: Warehouse, tmp_path: Path) -> None:
    ids = _segment_ids(warehouse)
    before = warehouse.read("french_samples").sort("sample_id")
    assert before.filter(pl.col("sample_id") == "s7")["tier"].item() == "rejected"  # English copy gated
    report = export_review(warehouse, QueueSettings(budget=10, stratified_share=0.0), tmp_path / "out")
    assert report.paths["html"].exists() and report.values["segments"] == 10
    assert warehouse.read("review_queue").height == 10
    columns, rows = _filled(
        report.paths["csv"],
        {
            "The circle is blue.": {"rating": "1", "correction": "Le cercle est bleu."},
            "yes": {"rating": "5"},  # approves the rated French
            "no": {"rating": "1", "comment": "« ne » n'est pas une réponse"},  # rejects it, no correction
            "What is it?": {"comment": "ok"},
        },
    )
    rated_no = next(r for r in rows if r["text_en"] == "no")
    review_file = _write_csv(tmp_path / "maya.csv", columns, rows)
    (outcome,) = import_review_files(warehouse, [review_file])
    assert outcome.status == "imported", [str(p) for p in outcome.problems]
    assert outcome.actions == {"approved": 1, "commented": 1, "corrected": 1, "rejected": 1}
    reviews = warehouse.read("expert_reviews")
    assert reviews.height == 4 and set(reviews["file_hash"]) == {outcome.file_hash}
    assert reviews.filter(pl.col("segment_id") == ids["no"])["reviewer"].item() == "Maya"
    human = warehouse.read("translations", "human")
    assert set(human["system_version"]) == {outcome.file_hash} and human.height == 2
    # importing the same file again changes nothing
    counts = _counts(warehouse)
    (again,) = import_review_files(warehouse, [review_file])
    assert again.status == "skipped" and _counts(warehouse) == counts

    # the quality stage scores `human` like any system, then the reviewed French outranks the machines
    quality = _recut(warehouse)
    best = quality.filter(pl.col("is_best"))
    corrected = best.filter(pl.col("segment_id") == ids["The circle is blue."]).row(0, named=True)
    assert corrected["system"] == "human" and corrected["text_fr"] == "Le cercle est bleu."
    assert corrected["combined"] == 1.0 and corrected["tier"] == "high" and corrected["gates"] == []
    approved = best.filter(pl.col("segment_id") == ids["yes"]).row(0, named=True)
    assert approved["system"] == "human" and approved["combined"] == 1.0
    scored = warehouse.scan("quality_scores").filter(pl.col("system") == "human").select("signal").unique()
    assert scored.collect().height == len(QUALITY.signals)
    rejected = quality.filter(
        (pl.col("segment_id") == ids["no"]) & (pl.col("system") == rated_no["rated_system"])
    )
    assert rejected["gates"].to_list() == [["expert_rejected"]] and not rejected["is_best"].item()
    assert best.filter(pl.col("segment_id") == ids["no"])["system"].item() != rated_no["rated_system"]
    after = warehouse.read("french_samples").sort("sample_id")
    s7 = after.filter(pl.col("sample_id") == "s7").row(0, named=True)
    assert (
        s7["tier"] == "high" and s7["turns"][1]["text"] == "Le cercle est bleu." and "human" in s7["systems"]
    )
    # a reviewed segment leaves the queue; the report part reads the reviews
    queue = build_queue(warehouse, QueueSettings(budget=10, stratified_share=0.0))
    assert not set(queue["segment_id"]) & set(reviews["segment_id"])
    part, section = review_section(warehouse, tmp_path / "report", 0.82)
    assert part["values"]["reviews"] == 4 and part["values"]["actions"]["corrected"] == 1
    assert "# Expert review" in section and "Agreement" in section
    assert part["figures"]["Review budget curve"].stat().st_size > 5000


BAD_FILES: dict[str, tuple[dict[str, dict[str, str]], str, str]] = {
    "unknown segment": (
        {"yes": {"rating": "4", "segment_id": "0000deadbeef0000"}},
        "segment_id",
        "unknown segment",
    ),
    "rating above 5": ({"yes": {"rating": "7"}}, "rating", "from 1 to 5"),
    "rating not a number": ({"yes": {"rating": "good"}}, "rating", "from 1 to 5"),
    "broken protected span": (
        {"There are 3 circles.": {"correction": "Il y a trois cercles."}},
        "correction",
        "'3' (English has 1, French has 0)",
    ),
    "no reviewer": ({"yes": {"rating": "4", "reviewer": ""}}, "reviewer", "reviewer is empty"),
    "bad date": ({"yes": {"rating": "4", "reviewed_at": "yesterday"}}, "reviewed_at", "ISO date"),
    "unknown system": ({"yes": {"rating": "4", "rated_system": "deepl"}}, "rated_system", "no translation"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_each_malformed_file_names_file_row_field_and_imports_nothing(
    case: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    edits, field, message = BAD_FILES[case]
    export_csv = _export_csv(warehouse, tmp_path / "out")
    # a valid row beside the bad one: the whole file is refused
    columns, rows = _filled(export_csv, {**edits, "red": {"rating": "5"}})
    bad_row = next(i for i, r in enumerate(rows, start=1) if r["text_en"] == next(iter(edits)))
    path = _write_csv(tmp_path / "bad.csv", columns, rows)
    counts = _counts(warehouse)
    (outcome,) = import_review_files(warehouse, [path])
    assert outcome.status == "failed" and _counts(warehouse) == counts
    text = "\n".join(str(p) for p in outcome.problems)
    assert str(path) in text and f"row {bad_row}" in text and f"field {field!r}" in text and message in text


def test_duplicates_encoding_and_missing_columns_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    export_csv = _export_csv(warehouse, tmp_path / "out")
    columns, rows = _filled(export_csv, {"yes": {"rating": "4"}, "red": {"rating": "5"}})
    counts = _counts(warehouse)
    duplicate = next(r for r in rows if r["text_en"] == "yes")
    dup_path = _write_csv(tmp_path / "dup.csv", columns, [*rows, dict(duplicate)])
    latin = dict(next(r for r in rows if r["text_en"] == "red"), correction="rouge foncé")
    latin_path = _write_csv(tmp_path / "latin1.csv", columns, [latin], encoding="latin-1")
    missing_path = _write_csv(tmp_path / "missing.csv", [c for c in columns if c != "rating"], rows)
    good_path = _write_csv(tmp_path / "good.csv", columns, rows)
    outcomes = {o.path.name: o for o in import_review_files(warehouse, [dup_path, latin_path, missing_path])}
    assert all(o.status == "failed" for o in outcomes.values()) and _counts(warehouse) == counts
    (dup,) = outcomes["dup.csv"].problems
    assert dup.row == len(rows) + 1 and dup.field == "segment_id" and "duplicate" in dup.message
    assert f"already reviewed in row {rows.index(duplicate) + 1}" in dup.message
    (enc,) = outcomes["latin1.csv"].problems
    assert "not UTF-8" in enc.message and "line 2" in enc.message and "latin1.csv" in str(enc)
    (miss,) = outcomes["missing.csv"].problems
    assert "missing column(s) rating" in str(miss)
    (good,) = import_review_files(warehouse, [good_path])
    assert good.status == "imported" and good.reviews == 2


def test_cli_export_and_import_through_add_parser(
    warehouse: Warehouse, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="vlmfr")
    add_parser(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return int(args.func(args))

    assert run("review", "export", "--budget", "5", "--out", str(tmp_path / "cli")) == 0
    assert "5 segments" in capsys.readouterr().out
    columns, rows = _filled(
        tmp_path / "cli" / "review.csv", {"The circle is blue.": {"correction": "Le cercle est bleu."}}
    )
    good = _write_csv(tmp_path / "good.csv", columns, rows)
    bad = _write_csv(tmp_path / "bad.csv", columns, [dict(r, rating="9") for r in rows])
    assert run("review", "import", str(good), str(bad)) == 1  # one file failed
    out = capsys.readouterr().out
    assert "bad.csv" in out and "nothing imported" in out and "corrected: 1 segment(s)" in out
    assert run("review", "import", str(good)) == 0 and "already imported" in capsys.readouterr().out


def test_agreement_and_suggested_threshold_on_known_ratings() -> None:
    combined = [0.95, 0.9, 0.88, 0.86, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4]
    ratings = [5, 5, 4, 5, 4, 3, 4, 2, 1, 1]
    rated = pl.DataFrame(
        {
            "rated_system": ["a"] * 5 + ["b"] * 5,
            "combined": combined,
            "rating": ratings,
            "selection": ["stratified", "priority"] * 5,
            "gates": [[]] * 10,
        },
        schema_overrides={"gates": pl.List(pl.String)},
    )
    table = {r["system"]: r for r in agreement_table(rated).iter_rows(named=True)}
    assert table["all"]["ratings"] == 10 and table["all"]["spearman"] > 0.8
    assert table["a"]["ratings"] == 5 and table["all"]["stratified_ratings"] == 5
    result = suggest_high_threshold(rated, current=0.82)
    # the lowest cut with >= 90% rated 4-5 above it and >= 5 ratings: 0.85 (5 of 5 good)
    assert result["suggested"] == {"threshold": 0.85, "kept": 5, "precision": 1.0, "recall": 5 / 6}
    assert result["current"]["kept"] == 5
    few = suggest_high_threshold(rated.head(3), current=0.82)
    assert few["suggested"] is None


# ------------------------------------------------------------------------------------- the browser
def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


needs_chromium = pytest.mark.skipif(
    _chromium() is None, reason="no Chromium on this machine (Debian: apt-get install chromium)"
)


class DevTools:
    """A minimal Chrome DevTools Protocol client over one websocket (commands only, events skipped)."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.stack = contextlib.ExitStack()
        self.socket = self.stack.enter_context(connect(url, max_size=2**26, open_timeout=10))
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=20))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self.stack.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# What the page shows, per card, read from its inputs (not from the page's state object).
CARDS_SHOWN = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('.card')].map((c) => [
  c.dataset.segment, {
    rating: (c.querySelector('.ratings input:checked') || {}).value || '',
    correction: c.querySelector('textarea.correction').value,
    comment: c.querySelector('input.comment').value,
  }])))"""
# As a person would type: set the value, then the input event the page listens to.
TYPE = (
    "const type = (el, text) => { el.value = text; el.dispatchEvent(new Event('input', {bubbles: true})); };"
)


class Browser:
    """Headless Chromium with one page under DevTools; downloads land in `downloads`."""

    def __init__(self, page: DevTools, root: DevTools, downloads: Path) -> None:
        self.page, self.root, self.downloads = page, root, downloads

    def ready(self) -> str | None:
        """The page's per-load ready token (set once the saved state is restored), None before that."""
        try:
            return self.page.evaluate("document.documentElement.dataset.reviewReady || null")
        except RuntimeError:  # between two documents ("Inspected target navigated or closed")
            return None

    def open(self, url: str) -> str:
        self.page.call("Page.navigate", url=url)
        return _wait(self.ready, "the review page")

    def reload(self, token: str) -> str:
        """Reload at once and wait for the new document: its ready token differs from `token`, the
        one of the document before (which may still answer for a moment after Page.reload returns)."""
        self.page.call("Page.reload")
        return _wait(lambda: (new := self.ready()) != token and new, "the reloaded page")

    def shown(self) -> dict[str, Any]:
        return {
            "cards": json.loads(self.page.evaluate(CARDS_SHOWN)),
            "reviewer": self.page.evaluate("document.getElementById('reviewer').value"),
            "progress": self.page.evaluate("document.getElementById('progress-text').textContent"),
        }


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    import requests

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    port = _free_port()
    process = subprocess.Popen(
        [
            str(_chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,1600",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def targets() -> list[dict[str, Any]] | None:
        try:
            found = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=1).json()
        except requests.RequestException:
            return None
        return [t for t in found if t["type"] == "page"]

    try:
        with contextlib.ExitStack() as stack:
            page_target = _wait(targets, "Chromium's DevTools endpoint")[0]
            version = requests.get(f"http://127.0.0.1:{port}/json/version", timeout=2).json()
            root = DevTools(version["webSocketDebuggerUrl"])
            stack.callback(root.close)
            root.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
            page = DevTools(page_target["webSocketDebuggerUrl"])
            stack.callback(page.close)
            page.call("Page.enable")
            yield Browser(page, root, downloads)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _blank(shown: dict[str, Any], *filled: str) -> bool:
    """Every card but `filled` shows nothing."""
    empty = {"rating": "", "correction": "", "comment": ""}
    return all(v == empty for k, v in shown["cards"].items() if k not in filled)


@needs_chromium
def test_review_page_in_headless_chromium_saves_a_file_that_imports(
    warehouse: Warehouse, tmp_path: Path, browser: Browser
) -> None:
    export = export_review(warehouse, QueueSettings(budget=10, stratified_share=0.3), tmp_path / "out")
    token = browser.open(export.paths["html"].as_uri())
    shown = browser.shown()
    assert len(shown["cards"]) == 10 and _blank(shown) and shown["progress"] == "0 of 10 reviewed"
    ids = _segment_ids(warehouse)
    copy_id, answer_id = ids["The circle is blue."], ids["no"]
    # as a person would: type the name, click ratings, type a correction; the progress is read in the
    # same script, so it is this document's
    progress = browser.page.evaluate(
        """(() => {
          TYPE
          type(document.getElementById('reviewer'), 'Maya Test');
          const card = (id) => document.querySelector(`.card[data-segment="${id}"]`);
          const copy = card(COPY_ID), answer = card(ANSWER_ID);
          copy.querySelector('input[value="2"]').parentElement.click();
          type(copy.querySelector('textarea.correction'), 'Le cercle est bleu, « ici ».');
          answer.querySelector('input[value="1"]').parentElement.click();
          answer.querySelector('button').click();                      // start from the rated French
          type(answer.querySelector('textarea.correction'), 'non');
          type(answer.querySelector('input.comment'), 'une réponse, pas « ne »');
          return document.getElementById('progress-text').textContent;
        })()""".replace("TYPE", TYPE)
        .replace("COPY_ID", json.dumps(copy_id))
        .replace("ANSWER_ID", json.dumps(answer_id))
    )
    assert progress == "2 of 10 reviewed"
    # everything survives a reload, read from the new document once it has restored it
    browser.reload(token)
    shown = browser.shown()
    assert shown["cards"][copy_id] == {
        "rating": "2",
        "correction": "Le cercle est bleu, « ici ».",
        "comment": "",
    }
    assert shown["cards"][answer_id] == {
        "rating": "1",
        "correction": "non",
        "comment": "une réponse, pas « ne »",
    }
    assert _blank(shown, copy_id, answer_id)
    assert shown["reviewer"] == "Maya Test" and shown["progress"] == "2 of 10 reviewed"
    shot = browser.page.call("Page.captureScreenshot", format="png")
    (tmp_path / "page.png").write_bytes(base64.b64decode(shot["data"]))
    browser.page.evaluate("document.getElementById('save').click()")
    saved = _wait(
        lambda: [p for p in browser.downloads.glob("*.csv") if not p.name.endswith(".crdownload")],
        "the downloaded file",
    )[0]
    _wait(lambda: saved.stat().st_size > 0, "download to finish")
    assert saved.name.startswith("review-") and "Maya_Test" in saved.name
    columns, rows = _read_csv(saved)
    assert columns == _read_csv(export.paths["csv"])[0]  # the same columns the export wrote
    (outcome,) = import_review_files(warehouse, [saved])
    assert outcome.status == "imported", [str(p) for p in outcome.problems]
    assert outcome.reviews == 2 and outcome.actions == {"corrected": 2}
    reviews = warehouse.read("expert_reviews").sort("segment_id")
    assert set(reviews["reviewer"]) == {"Maya Test"} and sorted(reviews["rating"].to_list()) == [1, 2]
    assert set(reviews["correction"]) == {"Le cercle est bleu, « ici ».", "non"}
    assert reviews.filter(pl.col("segment_id") == answer_id)["comment"].item() == "une réponse, pas « ne »"
    quality = combine_scores(warehouse, QUALITY)
    best = dict(quality.filter(pl.col("is_best")).select("segment_id", "text_fr").iter_rows())
    assert best[answer_id] == "non" and best[copy_id] == "Le cercle est bleu, « ici »."
    if os.environ.get("VLMFR_REVIEW_SCREENSHOT"):  # keep the screenshot for a person to look at
        shutil.copy(tmp_path / "page.png", os.environ["VLMFR_REVIEW_SCREENSHOT"])


@needs_chromium
def test_review_page_in_headless_chromium_keeps_every_keystroke_through_an_immediate_reload(
    warehouse: Warehouse, tmp_path: Path, browser: Browser
) -> None:
    """Chromium can give the document after a reload of a file:// page a localStorage without the last
    writes before the reload (about 1 reload in 10 here); the page's sessionStorage copy covers them.
    Each keystroke below is followed by a reload at once, and the last one is restored every time; then
    the stale view is made certain (an older copy put into localStorage before the page's script runs)."""
    export = export_review(warehouse, QueueSettings(budget=10, stratified_share=0.3), tmp_path / "out")
    card_id = _segment_ids(warehouse)["yes"]
    card = f"document.querySelector('.card[data-segment={json.dumps(card_id)}]')"
    token = browser.open(export.paths["html"].as_uri())
    browser.page.evaluate(f"{card}.querySelector('input[value=\"3\"]').parentElement.click()")
    typed = ""
    for key in "oui !":
        typed += key
        # the keystroke, then DevTools' reload straight after the script returns
        value = browser.page.evaluate(
            f"(() => {{ {TYPE} const c = {card}.querySelector('input.comment');"
            f" type(c, c.value + {json.dumps(key)}); return c.value; }})()"
        )
        assert value == typed
        token = browser.reload(token)
        shown = browser.shown()
        assert shown["cards"][card_id] == {"rating": "3", "correction": "", "comment": typed}, typed
        assert _blank(shown, card_id) and shown["progress"] == "1 of 10 reviewed"
    storage_key = f"vlmfr-review-{export.values['queue_id']}"
    newest = json.loads(browser.page.evaluate(f"localStorage.getItem({json.dumps(storage_key)})"))
    assert newest["rows"][card_id]["comment"] == typed
    older = {**newest, "revision": newest["revision"] - 1}
    older["rows"] = {card_id: {**newest["rows"][card_id], "comment": typed[:-1]}}
    stale = browser.page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        source=f"localStorage.setItem({json.dumps(storage_key)}, {json.dumps(json.dumps(older))});",
    )
    browser.reload(token)
    browser.page.call("Page.removeScriptToEvaluateOnNewDocument", identifier=stale["identifier"])
    assert browser.page.evaluate("window.vlmfrReview.restoredFrom") == "sessionStorage"
    assert browser.shown()["cards"][card_id]["comment"] == typed
    repaired = json.loads(browser.page.evaluate(f"localStorage.getItem({json.dumps(storage_key)})"))
    assert repaired == newest  # put back at once, so that the next change is not saved over it


# ----------------------------------------------------------------------------------------- Dagster
def test_review_assets_materialize_inbox_and_queue(warehouse: Warehouse, tmp_path: Path) -> None:
    import dagster as dg

    from assets.common import ModelServersResource, WarehouseResource
    from assets.definitions import PIPELINE
    from assets.review import REVIEW_CHECKS

    export_csv = _export_csv(warehouse, tmp_path / "out")
    columns, rows = _filled(export_csv, {"The circle is blue.": {"correction": "Le cercle est bleu."}})
    inbox = warehouse.home / "review" / "inbox"
    inbox.mkdir(parents=True)
    _write_csv(inbox / "good.csv", columns, rows)
    _write_csv(inbox / "bad.csv", columns, [dict(r, rating="0") for r in rows])
    resources = {"warehouse": WarehouseResource(home=str(warehouse.home)), "model_servers": ModelServersResource()}
    # the import asset and its checks (the queue asset runs `export_review`, tested above)
    imports = [a for a in PIPELINE if a.node_def.name == "expert_reviews"]
    assert [set(a.group_names_by_key.values()) for a in imports] == [{"review"}]
    result = dg.materialize([*imports, *REVIEW_CHECKS], resources=resources, raise_on_error=False)
    assert result.success
    materialized = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(materialized) == {"expert_reviews"}
    assert materialized["expert_reviews"]["reviews_imported"].value == 1
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["review_inbox_valid"].passed  # bad.csv imported nothing and is named
    assert "bad.csv" in str(checks["review_inbox_valid"].metadata["files_not_imported"].value)
    assert checks["human_translations_reviewed"].passed


def test_a_human_row_without_review_is_ranked_like_any_system(warehouse: Warehouse) -> None:
    fixture_translations(
        warehouse, "human", {"no": "non", "The circle is blue.": "The circle is blue."}, version="v1"
    )
    quality = combine_scores(warehouse, QUALITY)
    human = quality.filter(pl.col("system") == "human").sort("text_fr")
    assert human["combined"].to_list() != [1.0, 1.0]  # no review: the signals decide, and gates apply
    assert human.filter(pl.col("text_fr") == "The circle is blue.")["tier"].item() == "rejected"
