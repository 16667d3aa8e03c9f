"""The French benchmarks as an lmms-eval task folder: `lmms-eval --include_path <folder> --tasks vlmfr_fr`.

`VLMFR_HOME/exports/lmms_eval/` holds, per French benchmark (gold French and each MT system's), its
test items as Parquet with the images embedded (`data/<task>/test.parquet`) and a task YAML in
lmms-eval's convention (`dataset_path: parquet`, `doc_to_visual` / `doc_to_text` / `process_results`
from `utils.py`, exact match), a group `vlmfr_fr` over them, and `utils.py`. `utils.py` carries this
project's French answer normaliser verbatim (the source of `evaluation.normalize`, so lmms-eval needs
nothing of vlmfr-data installed, and the scores are the ones our evaluations compute): accents kept,
elision and articles removed, number words as digits. The data paths in the YAML files are absolute:
export again after moving the folder.
"""

from __future__ import annotations

import inspect
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from evaluation import normalize
from evaluation.benchmarks import BENCHMARKS, configured_benchmarks, register_mt_benchmarks
from vlmfr_data.config import ProjectConfig
from vlmfr_data.hf_export import IMAGE_TYPE, embed_images
from vlmfr_data.store import Warehouse

GROUP = "vlmfr_fr"
POST_PROMPT = "\\nRépondez par un seul mot ou une courte expression."  # YAML-escaped newline
_STRING = {"dtype": "string", "_type": "Value"}
# `datasets` reads a Parquet file's features from this schema metadata: `image` decodes to a PIL image
HF_FEATURES = {
    "info": {
        "features": {
            "item_id": _STRING,
            "image": {"_type": "Image"},
            **{c: _STRING for c in ("question", "answer", "question_type", "question_en", "answer_en")},
        }
    }
}
SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("image", IMAGE_TYPE),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("question_type", pa.string()),
        ("question_en", pa.string()),
        ("answer_en", pa.string()),
    ],
    metadata={"huggingface": json.dumps(HF_FEATURES)},
)

TASK_YAML = """\
# Written by vlmfr-data (evaluation/lmms_export.py): {description}
task: {task}
dataset_path: parquet
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
process_results: !function utils.process_results
generation_kwargs:
  max_new_tokens: 16
  temperature: 0
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: "{post_prompt}"
metadata:
  version: {version}
  items: {items}
"""

UTILS_FUNCTIONS = '''

# ---------------------------------------------------------------------------- lmms-eval task functions
def doc_to_visual(doc):
    image = doc["image"]
    if isinstance(image, dict):  # a loader that did not decode the image feature: {bytes, path}
        import io

        from PIL import Image

        image = Image.open(io.BytesIO(image["bytes"]))
    return [image.convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {}
    return f"{kwargs.get('pre_prompt', '')}{doc['question']}{kwargs.get('post_prompt', '')}"


def process_results(doc, results):
    """Exact match after the French normaliser above, as vlmfr-data scores it."""
    prediction = results[0] if results else ""
    return {"exact_match": float(normalize_fr(prediction) == normalize_fr(doc["answer"]))}
'''


@dataclass
class LmmsExport:
    folder: Path
    tasks: dict[str, int] = field(default_factory=dict)  # task -> items


def french_benchmarks(project: ProjectConfig) -> list[str]:
    """The French test benchmarks a run evaluates (dev splits choose settings: not exported)."""
    return [b for b in configured_benchmarks(project) if BENCHMARKS.create(b).language == "fr"]


def utils_source() -> str:
    """`utils.py`: the French normaliser's module source, then the task functions."""
    header = (
        '"""lmms-eval task functions for the vlmfr-data French benchmarks, with the French answer normaliser\n'
        'of vlmfr-data (evaluation/normalize.py, copied verbatim below by evaluation/lmms_export.py)."""\n\n'
    )
    body = inspect.getsource(normalize)
    body = body.split('"""', 2)[2].lstrip("\n") if body.startswith('"""') else body  # its own docstring
    return header + body.rstrip() + "\n" + UTILS_FUNCTIONS


def export_lmms_eval_tasks(
    warehouse: Warehouse,
    project: ProjectConfig,
    benchmarks: list[str] | None = None,
    folder: Path | None = None,
) -> LmmsExport:
    final = folder or warehouse.home / "exports" / "lmms_eval"
    staging = warehouse.staging_dir("lmms-eval")
    report = LmmsExport(final)
    register_mt_benchmarks(project)
    try:
        for name in benchmarks or french_benchmarks(project):
            benchmark = BENCHMARKS.create(name)
            items = benchmark.items(warehouse)
            if items.height == 0:
                continue  # an MT system that translated nothing: no task
            _write_items(items, staging / "data" / name / "test.parquet")
            (staging / f"{name}.yaml").write_text(
                TASK_YAML.format(
                    task=name,
                    description=benchmark.description or name,
                    data=final / "data" / name / "test.parquet",
                    post_prompt=POST_PROMPT,
                    version=benchmark.version(items),
                    items=items.height,
                ),
                encoding="utf-8",
            )
            report.tasks[name] = items.height
        (staging / f"_{GROUP}.yaml").write_text(
            f"group: {GROUP}\ntask:\n"
            + "".join(f"  - {t}\n" for t in report.tasks)
            + "aggregate_metric_list:\n  - metric: exact_match\n    aggregation: mean\n    weight_by_size: true\n",
            encoding="utf-8",
        )
        (staging / "utils.py").write_text(utils_source(), encoding="utf-8")
        warehouse.replace_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # left only when the export failed
    return report


def _write_items(items: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = embed_images(items, read_from="image").select(SCHEMA.names)
    pq.write_table(table.to_arrow().cast(SCHEMA), path)
