"""Translation through any server that speaks the OpenAI protocol: llama.cpp server, vLLM, SGLang, TGI,
or a hosted API.

Either `base_url` names a running server, or `serve = { engine = "llama_cpp", model = ... }` has the
pipeline start one on 127.0.0.1 (`vlmfr_data.serving`). The API key is read from the environment
variable named by `api_key_env` when a request is sent: it is never stored in the config, the version,
the cache or a log line.

- `endpoint = "completions"` sends the few-shot prompt of the in-process path (`mt/prompts.py`) and reads
  the first line back, so a base model behaves as it does in process; `"chat"` sends the instruction and
  the few-shot pairs as chat turns (instruction-tuned models, hosted APIs). `template` replaces the
  prompt: a string with `{text}`, `{source}`, `{target}` and `{examples}` (the few-shot block).
- Requests go through `serving.client.OpenAIClient`: `concurrency` at a time, a `timeout` each; a 429, a
  5xx, a timeout or a refused connection is retried `retries` times with exponential backoff (a
  server's Retry-After is honoured, capped at `max_backoff`). A segment that still fails keeps its own error row; the other
  segments of the batch are kept (`translate_each`).
- The version is the model, the server (the base URL, or the served file's fingerprint and engine
  build), the endpoint and a hash of the prompt: changing any of them re-translates.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vlmfr_data.mt.base import PIPELINE_VERSION, Availability, SystemDefaults
from vlmfr_data.mt.prompts import (
    DEFAULT_EXAMPLES,
    clean_output,
    few_shot_block,
    few_shot_prompt,
    instruction,
    language_name,
)
from vlmfr_data.serving.client import OpenAIClient


class OpenAICompatible(SystemDefaults):
    backend = "openai_compatible"
    context_style = "sentence"  # see mt/context.in_context

    def __init__(
        self,
        name: str,
        model: str = "",
        base_url: str | None = None,
        serve: dict[str, Any] | None = None,
        api_key_env: str | None = None,
        endpoint: str = "completions",
        template: str | None = None,
        examples: list[list[str]] | None = None,
        max_tokens: int = 64,
        temperature: float = 0.0,
        concurrency: int = 4,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        source_lang: str = "en",
        target_lang: str = "fr",
        cost_per_call: float = 0.0,
    ) -> None:
        if endpoint not in ("completions", "chat"):
            raise ValueError(f"endpoint must be 'completions' or 'chat', got {endpoint!r}")
        self.name = name
        self.model = model
        self.client = OpenAIClient(
            base_url=base_url,
            serve=dict(serve) if serve else None,
            api_key_env=api_key_env,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            concurrency=concurrency,
        )
        self.endpoint = endpoint
        self.template = template
        self.examples: list[tuple[str, str]] = [(a, b) for a, b in examples] if examples else DEFAULT_EXAMPLES
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.source_lang, self.target_lang = source_lang, target_lang
        self.cost_per_call = cost_per_call

    def availability(self) -> Availability:
        return self.client.availability()

    @property
    def base_url(self) -> str:
        """The server's URL (a served one is started here on first use)."""
        return self.client.url()

    @property
    def version(self) -> str:
        prompt = json.dumps([self.template, self.examples, self.endpoint], ensure_ascii=False)
        digest = hashlib.sha1(prompt.encode()).hexdigest()[:8]
        model = f"{self.model} " if self.model else ""
        return (
            f"openai:{model}{self.client.identity} {self.endpoint} prompt={digest}{self.direction_tag()} "
            f"{PIPELINE_VERSION}"
        )

    # ------------------------------------------------------------ prompts
    def prompt(self, text: str) -> str:
        if self.template:
            return self.template.format(
                text=text,
                source=language_name(self.source_lang),
                target=language_name(self.target_lang),
                examples=few_shot_block(self.source_lang, self.target_lang, self.examples),
            )
        return few_shot_prompt(text, self.source_lang, self.target_lang, self.examples)

    def request_body(self, text: str) -> dict[str, Any]:
        # French runs ~1.2x English and a token is ~4 characters: room for that, bounded by max_tokens
        budget = min(self.max_tokens, len(text) // 2 + 16)
        body: dict[str, Any] = {"max_tokens": budget, "temperature": self.temperature}
        if self.model:
            body["model"] = self.model
        if self.endpoint == "completions":
            return body | {"prompt": self.prompt(text), "stop": ["\n"]}
        messages: list[dict[str, str]] = []
        for a, b in self.examples:
            messages.append({"role": "user", "content": instruction(a, self.source_lang, self.target_lang)})
            messages.append({"role": "assistant", "content": b})
        user = self.prompt(text) if self.template else instruction(text, self.source_lang, self.target_lang)
        return body | {"messages": [*messages, {"role": "user", "content": user}]}

    # ------------------------------------------------------------ translating
    def translate_each(self, texts: list[str]) -> list[str | Exception]:
        """Every text as its own request through the client's pool; a failed one is its exception."""
        answers = self.client.post_each(self.endpoint, [self.request_body(t) for t in texts])
        return [a if isinstance(a, Exception) else clean_output(a) for a in answers]

    def translate(self, texts: list[str]) -> list[str]:
        results = self.translate_each(texts)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return [r for r in results if isinstance(r, str)]
