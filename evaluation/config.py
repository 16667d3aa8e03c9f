"""The `[evaluation]` table of vlmfr.toml, parsed with documented defaults.

    [evaluation]
    benchmarks = ["easy_vqa_en", "easy_vqa_fr_gold"]   # default: these two + easy_vqa_fr_<system> per MT system
    seeds = [0, 1]               # training seeds of every compared French configuration
    dev_items = 500              # dev items (held-out train images) each run is chosen on
    dev_every = 20               # steps between dev evaluations of a French run (english_dev_every: stage 0)
    limit = 4000                 # test items per benchmark, evenly spaced (0 = all; the full profile)
    tier_benchmarks = ["easy_vqa_fr_gold"]  # benchmarks for the tier models (the default; [] = every French one)
    batch_size = 256             # questions per Predictor.answer call
    bootstrap = 1000             # bootstrap resamples for the 95% interval
    latency_samples = 16         # items timed one by one (batch 1) for the latency split
    latency_budget_s = 30        # per system: stop after this many seconds once 3 items are timed
    sweep_points = 6             # sweep points from keep-all to the strictest non-empty cut (quantile levels
                                 # of the training samples' worst-segment scores; one Dagster partition each)
    sweep_cuts = [0.75, 0.85]    # or explicit combined-score cuts instead of the points
    sweep_method = "lora"        # sweep models use the tier models' recipe ([training] finetune, seeds)
    sweep_options = {}           # TrainConfig overrides for every sweep model alike

    [evaluation.translate_test.apertium]   # the FR->EN system used with the EN->FR system "apertium"
    backend = "apertium"
    options = { modes = ["fr-es", "spa-eng"] }

Translate-test runs for every configured MT system that has a way back: Apertium (pivot `fr-es` then
`spa-eng`) and prompted causal LMs (`hf_causal`, few-shot examples reversed) get one by default; any other
system (a Marian en-fr model, say) needs its FR->EN partner named under `[evaluation.translate_test.<name>]`,
or `false` there to skip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from training.config import TrainConfig
from vlmfr_data.config import MTSystemConfig, ProjectConfig
from vlmfr_data.mt.apertium import REVERSE_MODES
from vlmfr_data.settings import parse_table


@dataclass
class EvaluationConfig:
    benchmarks: list[str] | None = None  # None = easy_vqa_en, easy_vqa_fr_gold, easy_vqa_fr_<each system>
    # test items per benchmark, evenly spaced over it (0 = all). The demo scores ~40 models on gold French:
    # 4,000 of its 9,673 items keep that within the demo's time (profiles/full.toml: all)
    limit: int = 4000
    # training seeds of every compared French configuration (tier models, gold ceiling, sweep cuts)
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    # checkpoints are chosen on the dev split (held-out train images): items per dev evaluation, and
    # steps between evaluations of a French run / of the English VLM
    dev_items: int = 500  # (profiles/full.toml: 1,000)
    dev_every: int = 20  # steps between dev evaluations of a French run
    english_dev_every: int = 150  # steps between dev evaluations of the English VLM
    # the demo evaluates its many seeded models on gold French only (profiles/full.toml: every French one)
    tier_benchmarks: list[str] | None = field(default_factory=lambda: ["easy_vqa_fr_gold"])
    batch_size: int = 256  # questions per Predictor.answer call
    bootstrap: int = 1000  # bootstrap resamples for the 95% intervals
    seed: int = 0  # of the bootstrap resampling
    latency_samples: int = 16  # items timed one by one (batch 1) for the latency split
    # Gemma-3-270M takes ~8 s per question at batch 1 on 2 cores: 16 items would cost minutes for one number
    latency_budget_s: float = 30.0
    # sweep points from keep-all to the strictest non-empty cut (quantile levels of the training samples'
    # worst-segment scores; one Dagster partition each)
    sweep_points: int = 6
    sweep_cuts: list[float] | None = None  # None: `sweep_points` quantile levels (evaluation.sweep)
    sweep_method: str = "lora"  # sweep models use the tier models' recipe ([training] finetune, seeds)
    sweep_options: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides for every sweep model
    # EN->FR system name -> FR->EN system spec ({backend, options}) or False to skip that system
    translate_test: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("seeds must be a non-empty list of integers, e.g. seeds = [0, 1]")
        self.seeds = sorted(set(self.seeds))
        if self.sweep_cuts is not None:
            self.sweep_cuts = sorted({round(float(c), 4) for c in self.sweep_cuts})
        train_keys = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(self.sweep_options) - train_keys)
        if unknown:
            raise ValueError(
                f"sweep_options: unknown TrainConfig key(s) {unknown}; allowed: {sorted(train_keys)}"
            )

    @classmethod
    def from_table(cls, raw: dict[str, Any] | None, where: str = "[evaluation]") -> EvaluationConfig:
        """The `[evaluation]` table; a wrong key or type is an error naming its key path."""
        return parse_table(cls, dict(raw or {}), where)

    @classmethod
    def from_project(cls, project: ProjectConfig) -> EvaluationConfig:
        """The project's `[evaluation]` (parsed when the config was loaded), as a copy a caller may change."""
        settings = project.evaluation
        if not isinstance(settings, EvaluationConfig):
            raise TypeError(f"ProjectConfig.evaluation is {type(settings).__name__}, not EvaluationConfig")
        return replace(settings)


# Backends that translate by prompting an LLM: the same model turned round is their FR->EN partner.
PROMPTED_BACKENDS = ("hf_causal", "openai_compatible")


def backward_system(forward: MTSystemConfig, override: Any = None) -> MTSystemConfig | None:
    """The FR->EN partner of an EN->FR MT system, or None when there is none (the reason is in the docs).

    `override` is the `[evaluation.translate_test.<system>]` entry: a dict {backend, options, batch_size},
    or False to skip the system.
    """
    name = f"{forward.name}_fr_en"
    if override is False:
        return None
    if isinstance(override, dict):
        return MTSystemConfig(
            name=override.get("name", name),
            backend=override.get("backend", forward.backend),
            options=dict(override.get("options", {})),
            batch_size=int(override.get("batch_size", forward.batch_size)),
        )
    if forward.backend == "apertium":
        # the same pivot backwards (eng-cat|cat-fra -> fra-cat|cat-eng); the Spanish one when a mode has no
        # known reverse
        forward_modes = list(forward.options.get("modes") or ["eng-spa", "es-fr"])
        backward_modes = [REVERSE_MODES.get(m) for m in reversed(forward_modes)]
        if not all(backward_modes):
            backward_modes = ["fr-es", "spa-eng"]
        return MTSystemConfig(
            name=name,
            backend="apertium",
            options={"modes": backward_modes, "source_lang": "fr", "target_lang": "en"},
            batch_size=forward.batch_size,
        )
    if forward.backend in PROMPTED_BACKENDS:
        # Same model, prompted the other way: the few-shot pairs are reversed; the languages are set on
        # the created system (see translate_test.create_backward).
        return MTSystemConfig(
            name=name, backend=forward.backend, options=dict(forward.options), batch_size=forward.batch_size
        )
    return None
