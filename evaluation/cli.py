"""`vlmfr evaluate ...` and `vlmfr report`: the evaluation stages from the command line (same code as the
Dagster assets). Importing this module imports nothing heavy."""

from __future__ import annotations

import argparse

STAGES = ["english_vlm", "translate_test", "tiers", "latency", "report"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate the English VLM, translate-test, tier models; latency; one sweep cut",
        description="Evaluate models on the benchmarks (predictions cached per model and benchmark version). "
        "Without options: the English VLM, translate-test for every MT system, every tier model, the report.",
    )
    p.add_argument(
        "what",
        nargs="*",
        default=[],
        help=f"stages to run, of {', '.join(STAGES)} (default: all but latency)",
    )
    p.add_argument("--benchmark", action="append", help="only these benchmarks (repeatable)")
    p.add_argument("--limit", type=int, help="only the first N items of each benchmark")
    p.add_argument("--mt-system", action="append", help="translate-test / latency: only these MT systems")
    p.add_argument("--sweep-cut", type=float, action="append", help="run the threshold sweep at this cut")
    p.set_defaults(func=cmd_evaluate)
    p = subparsers.add_parser("report", help="write the HTML report ($VLMFR_HOME/report/index.html)")
    p.set_defaults(func=cmd_report)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from evaluation import pipeline
    from evaluation.config import EvaluationConfig
    from evaluation.report import write_html_report
    from vlmfr_data.config import load_config
    from vlmfr_data.store import Warehouse

    unknown = [s for s in args.what if s not in STAGES]
    if unknown:
        raise SystemExit(f"vlmfr evaluate: unknown stage(s) {unknown}; known: {STAGES}")
    project = load_config()
    config = EvaluationConfig.from_project(project)
    if args.benchmark:
        config.benchmarks = args.benchmark
    if args.limit is not None:
        config.limit = args.limit
    warehouse = Warehouse()
    stages = args.what or ([] if args.sweep_cut else ["english_vlm", "translate_test", "tiers", "report"])
    systems = args.mt_system or [s.name for s in project.mt_systems]
    if "english_vlm" in stages:
        pipeline.evaluate_english_vlm(warehouse, project, config, emit=print)
    if "translate_test" in stages:
        for name in systems:
            _, reason = pipeline.evaluate_translate_test(warehouse, project, config, name, emit=print)
            if reason:
                print(f"translate-test {name}: skipped ({reason})")
    if "tiers" in stages:
        pipeline.evaluate_tier_models(warehouse, project, config, emit=print)
    if "latency" in stages:
        pipeline.measure_latency(warehouse, project, config, systems, emit=print)
    for cut in args.sweep_cut or []:
        pipeline.run_sweep_cut(warehouse, project, config, cut, emit=print)
    if "report" in stages or args.sweep_cut:
        print(f"report: {write_html_report(warehouse)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from evaluation.report import write_html_report
    from vlmfr_data.store import Warehouse

    print(write_html_report(Warehouse()))
    return 0
