"""An LLM judges each translation: GEMBA-DA (Kocmi & Federmann 2023), a reference-free QE signal.

The judge (any OpenAI-compatible endpoint: a hosted model, vLLM, or a GGUF the pipeline serves with
llama.cpp) is asked for a 0-100 direct-assessment score of the French translation given its English
source, greedy, one request per pair through `serving.client.OpenAIClient` (bounded pool, retries).
value = the rating (0-100); score = rating / 100. The answer is parsed robustly: the first number in
0-100 in the reply ("85", "Score: 85/100", "**90**", "I'd give it 72.5."); a reply without one, or a
request that failed for good, is null with the reason in `detail`, never a guess. Ratings are cached
like translations: `quality_scores` holds them per (translation, signal version), and the version is
the judge (model, server or served file), the endpoint and the prompt's hash, so a rerun asks only
about new translations. The within-engine Spearman with caption chrF appears beside the other signals
in `signal_correlations` once it is enabled:

    [quality.extra_signals.llm_judge]
    base_url = "http://127.0.0.1:8000/v1"        # or: serve = { engine = "llama_cpp", model = "..." }
    model = "Qwen2.5-7B-Instruct"
    api_key_env = "JUDGE_API_KEY"                # the variable's name; its value is never stored
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import polars as pl

from vlmfr_data.quality.base import scores_frame
from vlmfr_data.registry import Availability
from vlmfr_data.serving.client import OpenAIClient

# GEMBA-DA's prompt (Kocmi & Federmann 2023, "Large Language Models Are State-of-the-Art Evaluators of
# Translation Quality"), for English -> French without a reference.
GEMBA_DA = (
    "Score the following translation from English to French on a continuous scale from 0 to 100, where "
    'a score of zero means "no meaning preserved" and score of one hundred means "perfect meaning and '
    'grammar".\n\nEnglish source: "{source}"\nFrench translation: "{translation}"\nScore: '
)
_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:[.,]\d+)?)(?![\d])")


def parse_rating(reply: str) -> float | None:
    """The first number in [0, 100] in the judge's reply, else None."""
    for match in _NUMBER.finditer(reply or ""):
        value = float(match.group(1).replace(",", "."))
        if 0.0 <= value <= 100.0:
            return value
    return None


class LLMJudge:
    description = (
        "GEMBA-DA: an LLM rates the translation 0-100 given the source (value = the rating); "
        "score = rating / 100; null when the reply has no rating or the request failed"
    )

    def __init__(
        self,
        base_url: str | None = None,
        serve: dict[str, Any] | None = None,
        model: str = "",
        api_key_env: str | None = None,
        endpoint: str = "chat",
        template: str = GEMBA_DA,
        max_tokens: int = 8,
        concurrency: int = 4,
        timeout: float = 60.0,
        retries: int = 4,
    ) -> None:
        if endpoint not in ("completions", "chat"):
            raise ValueError(f"llm_judge: endpoint must be 'completions' or 'chat', got {endpoint!r}")
        self.client = (
            OpenAIClient(
                base_url=base_url,
                serve=serve,
                api_key_env=api_key_env,
                timeout=timeout,
                retries=retries,
                concurrency=concurrency,
            )
            if base_url or serve
            else None
        )
        self.model, self.endpoint, self.template, self.max_tokens = model, endpoint, template, max_tokens

    def availability(self) -> Availability:
        if self.client is None:
            return Availability(
                False,
                "no judge configured: set `base_url` (an OpenAI-compatible server) or `serve` under "
                "[quality.extra_signals.llm_judge]",
            )
        return self.client.availability()

    @property
    def version(self) -> str:
        if self.client is None:
            return "unconfigured"
        prompt = hashlib.sha1(f"{self.template}|{self.endpoint}|{self.max_tokens}".encode()).hexdigest()[:8]
        model = f"{self.model} " if self.model else ""
        return f"gemba-da {model}{self.client.identity} prompt={prompt}"

    def request_body(self, source: str, translation: str) -> dict[str, Any]:
        prompt = self.template.format(source=source, translation=translation)
        body: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": 0.0}
        if self.model:
            body["model"] = self.model
        if self.endpoint == "completions":
            return body | {"prompt": prompt}
        return body | {"messages": [{"role": "user", "content": prompt}]}

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        assert self.client is not None, "score() needs an available judge (see availability())"
        texts = pairs["text_fr"].fill_null("")
        todo = pairs.with_row_index("row").filter(texts.str.strip_chars() != "")
        replies = self.client.post_each(
            self.endpoint,
            [self.request_body(s, t) for s, t in zip(todo["text_en"], todo["text_fr"], strict=True)],
        )
        values: list[float | None] = [None] * pairs.height
        details: list[str | None] = ["empty translation"] * pairs.height
        for row, reply in zip(todo["row"].to_list(), replies, strict=True):
            if isinstance(reply, Exception):
                values[row], details[row] = None, f"judge request failed: {reply}"
                continue
            values[row] = parse_rating(reply)
            details[row] = None if values[row] is not None else f"no 0-100 rating in the reply {reply[:60]!r}"
        scores = [None if v is None else v / 100.0 for v in values]
        return scores_frame(values, scores, detail=details)
