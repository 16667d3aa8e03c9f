"""`make demo`: materialize the whole asset graph, every partition, on the configured (default) data.

Runs are recorded in the Dagster instance at `$DAGSTER_HOME` (default `$VLMFR_HOME/dagster`), so
`make ui` shows them afterwards.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import dagster as dg

from assets.ui import prepare_dagster_home


def main() -> int:
    prepare_dagster_home()
    from assets.definitions import CHECKS, DEMO_PARTITIONS, PIPELINE, defs  # after DAGSTER_HOME is set

    resources = {"warehouse": defs.resources["warehouse"]}
    instance = dg.DagsterInstance.get()
    failed: list[str] = []
    for asset in PIPELINE:
        keys = asset.partitions_def.get_partition_keys() if asset.partitions_def else [None]
        keys = DEMO_PARTITIONS.get(asset.key.to_user_string(), keys) if len(asset.keys) == 1 else keys
        name = asset.node_def.name if len(asset.keys) > 1 else asset.key.to_user_string()
        for key in keys:
            label = name + (f"[{key}]" if key else "")
            started = time.perf_counter()
            result = dg.materialize(
                [*PIPELINE, *CHECKS],
                selection=dg.AssetSelection.assets(*asset.keys)
                | dg.AssetSelection.checks_for_assets(*asset.keys),
                partition_key=str(key) if key is not None else None,
                instance=instance,
                resources=resources,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
            status = "ok" if result.success else "FAILED"
            print(f"  {label:<40} {status:>6}  {time.perf_counter() - started:6.1f}s", flush=True)
            for check in result.get_asset_check_evaluations():
                verdict = "passed" if check.passed else f"FAILED ({check.severity.value})"
                print(f"    check {check.check_name:<34} {verdict}", flush=True)
            if not result.success:
                failed.append(label)

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
