"""Great Expectations suites as Dagster asset checks: ERROR for broken invariants, WARN for drift."""

from __future__ import annotations

import dagster as dg

from assets.common import WarehouseResource
from vlmfr_data.validation import SUITES, run_suite


def gx_check(suite_name: str, asset: str) -> dg.AssetChecksDefinition:
    suite = SUITES[suite_name]
    severity = dg.AssetCheckSeverity.ERROR if suite.severity == "error" else dg.AssetCheckSeverity.WARN

    @dg.asset_check(
        asset=asset,
        name=suite_name,
        blocking=False,
        description=f"Great Expectations suite `{suite_name}` ({suite.severity}) on `{suite.table}`.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outcome = run_suite(warehouse.get(), suite_name)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=severity,
            metadata={
                "rows": outcome.rows,
                "failures": dg.MetadataValue.json(outcome.failures),
                "data_docs": dg.MetadataValue.url(outcome.docs_url or ""),
            },
        )

    return _check


# Each suite checks the table its name says (SUITES[name].table).
DATA_CHECKS = [gx_check(name, SUITES[name].table) for name in SUITES]
