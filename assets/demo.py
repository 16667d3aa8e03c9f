"""`make demo`: materialize the whole asset graph, every demo partition, on the configured (default) data.

Each (asset, partition) is one Dagster run (`dg.materialize` with its asset checks), recorded in the
instance at `$DAGSTER_HOME` (default `$VLMFR_HOME/dagster`), so `make ui` shows them afterwards.

Runs that do not depend on each other go at once, `VLMFR_DEMO_WORKERS` (default: 2, the cores here) at a
time, each in a worker process: the English VLM trains while Gemma translates, and the tier models train
two by two. Dagster's own CLI materializes one partition definition per command, and a backfill needs the
daemon, so this loop only decides which run may start; Dagster executes every step. A run starts when
every run of the assets it reads has finished; one whose input failed is not started and is named.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from assets.ui import prepare_dagster_home

# torch uses one thread per worker: two workers with two threads each on two cores spin-wait (measured:
# a training step took 3-9 s instead of 0.4 s). Set before any worker imports torch.
THREADS_PER_WORKER = "1"


@dataclass
class Unit:
    """One Dagster run of the demo: an asset (or multi-asset) and one of its partitions."""

    name: str
    key: str | None
    parents: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return self.name + (f"[{self.key}]" if self.key else "")


class _Throttle(logging.Filter):
    """Progress lines from a worker at most every `seconds` per label (the last line of a job shows)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        label = text.split(":", 1)[0]
        now = time.monotonic()
        finished = "ETA" not in text
        if finished or now - self.last.get(label, 0.0) >= self.seconds:
            self.last[label] = now
            return True
        return False


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", THREADS_PER_WORKER)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("      %(message)s"))
    handler.addFilter(_Throttle(30.0))
    progress = logging.getLogger("vlmfr.progress")
    progress.setLevel(logging.INFO)
    progress.addHandler(handler)


def _assets_by_name() -> dict:
    """Every step of the graph in topological order, by run name (a multi-asset by its op's name)."""
    from assets.definitions import PIPELINE

    return {(a.node_def.name if len(a.keys) > 1 else a.key.to_user_string()): a for a in PIPELINE}


def run_unit(name: str, key: str | None) -> tuple[bool, float, list[str]]:
    """Materialize one (asset, partition) with its checks; (success, seconds, check lines)."""
    import dagster as dg

    from assets.definitions import CHECKS, PIPELINE, defs

    asset = _assets_by_name()[name]
    started = time.perf_counter()
    result = dg.materialize(
        [*PIPELINE, *CHECKS],
        selection=dg.AssetSelection.assets(*asset.keys) | dg.AssetSelection.checks_for_assets(*asset.keys),
        partition_key=key,
        instance=dg.DagsterInstance.get(),
        resources={key: (defs.resources or {})[key] for key in ("warehouse", "model_servers")},
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    checks = [
        f"check {c.check_name:<34} " + ("passed" if c.passed else f"FAILED ({c.severity.value})")
        for c in result.get_asset_check_evaluations()
    ]
    return result.success, time.perf_counter() - started, checks


def demo_units() -> list[Unit]:
    """Every demo run in topological order, each naming the assets (by run name) it waits for."""
    from assets.definitions import DEMO_PARTITIONS

    steps = _assets_by_name()
    owner = {k: name for name, a in steps.items() for k in a.keys}
    units = []
    for name, asset in steps.items():
        keys = asset.partitions_def.get_partition_keys() if asset.partitions_def else [None]
        keys = DEMO_PARTITIONS.get(name, keys) if len(asset.keys) == 1 else keys
        parents = {owner[k] for deps in asset.asset_deps.values() for k in deps if k in owner} - {name}
        units += [Unit(name, str(k) if k is not None else None, parents) for k in keys]
    return units


def run_all(
    units: list[Unit],
    workers: int,
    runner: Callable[[str, str | None], tuple[bool, float, list[str]]] = run_unit,
    pool: Executor | None = None,
) -> list[str]:
    """Run the units, at most `workers` at once, each when its parents are done; the failed labels.

    `runner` materializes one unit in `pool` (default: `workers` spawned worker processes)."""
    if pool is None:
        # spawn: a fresh interpreter per worker, never a fork of a process that uses torch
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)
    pending = list(units)
    remaining = Counter(u.name for u in units)  # runs of each asset not finished yet
    failed_assets: set[str] = set()
    failed: list[str] = []
    running: dict[Future, Unit] = {}
    with pool:
        while pending or running:
            for unit in list(pending):
                if len(running) >= workers:
                    break
                if any(remaining.get(p, 0) for p in unit.parents):
                    continue
                pending.remove(unit)
                if unit.parents & failed_assets:
                    print(
                        f"  {unit.label:<50} SKIPPED (input failed: {', '.join(sorted(unit.parents & failed_assets))})"
                    )
                    failed.append(unit.label)
                    failed_assets.add(unit.name)
                    remaining[unit.name] -= 1
                    continue
                running[pool.submit(runner, unit.name, unit.key)] = unit
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                unit = running.pop(future)
                remaining[unit.name] -= 1
                try:
                    success, seconds, checks = future.result()
                except Exception as exc:  # a worker that died (killed, out of memory): say so, go on
                    success, seconds, checks = False, 0.0, [f"worker error: {exc!r}"]
                print(f"  {unit.label:<50} {'ok' if success else 'FAILED':>6}  {seconds:6.1f}s", flush=True)
                for line in checks:
                    print(f"    {line}", flush=True)
                if not success:
                    failed.append(unit.label)
                    failed_assets.add(unit.name)
    return failed


def main() -> int:
    # before any worker loads torch: OpenMP threads that wait sleep instead of spinning on the other
    # worker's core (the English VLM trains with 2 threads; see training/config.py ENGLISH_TRAIN)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    prepare_dagster_home()
    import dagster as dg

    dg.DagsterInstance.get().upgrade()  # create the run storage once, before workers use it at once
    workers = int(os.environ.get("VLMFR_DEMO_WORKERS") or min(2, os.cpu_count() or 1))
    started = time.perf_counter()
    failed = run_all(demo_units(), max(1, workers))
    minutes = (time.perf_counter() - started) / 60

    from vlmfr_data.report import write_report
    from vlmfr_data.store import Warehouse

    warehouse = Warehouse()
    warehouse.refresh_views()
    report = warehouse.home / "report" / "report.md"
    if not report.exists():  # the quality_report asset writes the full one, with figures
        report = write_report(warehouse)
    html = warehouse.home / "report" / "index.html"
    default_home = Path(".vlmfr").resolve()
    # a non-default home must be named, or `vlmfr sql` would look in ./.vlmfr
    prefix = "" if warehouse.home == default_home else f"VLMFR_HOME={shlex.quote(str(warehouse.home))} "
    print()
    print(f"Asset graph:      {minutes:.1f} min ({workers} worker(s))")
    print(f"DuckDB warehouse: {warehouse.db_path}")
    print(f"Report:           {html if html.exists() else report}")
    print(f'Explore:          {prefix}.venv/bin/vlmfr sql "SELECT kind, count(*) FROM segments GROUP BY 1"')
    print("UI:               make ui  (http://127.0.0.1:3000)")
    if failed:
        print(f"\n{len(failed)} step(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
