"""`make demo`'s runner: every (asset, partition) of the graph, independent runs at once, each run after
the runs of the assets it reads, and nothing started on a failed input."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from assets.demo import Unit, demo_units, run_all


def test_runs_wait_for_their_inputs_run_in_parallel_and_skip_after_a_failure(capsys) -> None:  # noqa: ANN001
    units = [
        Unit("a", None),
        Unit("b", "p1", {"a"}),
        Unit("b", "p2", {"a"}),
        Unit("slow", None),
        Unit("c", None, {"b"}),
        Unit("bad", None),
        Unit("after_bad", None, {"bad", "a"}),
    ]
    lock = threading.Lock()
    events: list[tuple[str, str]] = []
    running = [0]
    peak = [0]

    def runner(name: str, key: str | None) -> tuple[bool, float, list[str]]:
        label = name + (f"[{key}]" if key else "")
        with lock:
            events.append(("start", label))
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2 if name == "slow" else 0.05)
        with lock:
            events.append(("end", label))
            running[0] -= 1
        return name != "bad", 0.05, []

    failed = run_all(units, 2, runner, ThreadPoolExecutor(2))

    order = [label for kind, label in events]
    starts = {label: i for i, (kind, label) in enumerate(events) if kind == "start"}
    ends = {label: i for i, (kind, label) in enumerate(events) if kind == "end"}
    assert ends["a"] < starts["b[p1]"] and ends["a"] < starts["b[p2]"]
    assert ends["b[p1]"] < starts["c"] and ends["b[p2]"] < starts["c"]
    assert "after_bad" not in order  # its input failed: never started
    assert failed == ["bad", "after_bad"]
    assert peak[0] == 2  # independent runs overlapped, never more than the workers
    out = capsys.readouterr().out
    assert "after_bad" in out and "SKIPPED (input failed: bad)" in out


def test_demo_units_cover_the_graph_in_order() -> None:
    units = demo_units()
    names = [u.name for u in units]
    seen: set[str] = set()
    for unit in units:
        assert unit.parents <= seen, f"{unit.label} listed before its inputs {unit.parents - seen}"
        seen.add(unit.name)
    for expected in ("english_vlm", "tier_models", "french_corpora", "evaluation_report", "quality_report"):
        assert expected in names
    report_parents = next(u for u in units if u.name == "evaluation_report").parents
    assert {"tier_model_evaluation", "threshold_sweep", "quality_report"} <= report_parents
