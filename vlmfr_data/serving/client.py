"""A small client for OpenAI-compatible servers, shared by the MT backend and the LLM judge.

Requests run `concurrency` at a time (a bounded pool), each with a `timeout`; a 429, a 5xx, a timeout or
a refused connection is retried `retries` times with exponential backoff and jitter (a server's
Retry-After is honoured, capped at `max_backoff`). The API key is read from the environment variable
`api_key_env` names when a request is sent: never stored, never in an error message or a log line.
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from vlmfr_data import serving
from vlmfr_data.registry import Availability

RETRIED_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class RequestFailed(RuntimeError):
    """One request failed for good: the status or exception, the attempts, and the server's words."""


@dataclass
class OpenAIClient:
    base_url: str | None = None  # a running server ...
    serve: dict[str, Any] | None = None  # ... or one the pipeline starts (vlmfr_data.serving)
    api_key_env: str | None = None
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    concurrency: int = 4
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        if not self.base_url and not self.serve:
            raise ValueError("give `base_url` (a running server) or `serve` (a server the pipeline starts)")
        self.base_url = self.base_url.rstrip("/") if self.base_url else None
        self.concurrency = max(1, self.concurrency)

    @property
    def engine(self) -> serving.ServingEngine | None:
        return serving.engine_for(self.serve) if self.serve is not None else None

    @property
    def identity(self) -> str:
        """What answers, for a cache version: the served model's identity, or the URL (never a port)."""
        return self.engine.model_id if self.engine is not None else str(self.base_url)

    def url(self) -> str:
        if self.serve:
            return serving.local_server(self.serve).base_url
        return str(self.base_url)

    def availability(self) -> Availability:
        if self.api_key_env and not os.environ.get(self.api_key_env):
            return Availability(False, f"environment variable {self.api_key_env} (the API key) is not set")
        if self.engine is not None:
            return self.engine.availability()
        try:
            response = self.session().get(
                f"{self.base_url}/models", headers=self.headers(), timeout=min(self.timeout, 10)
            )
        except requests.RequestException as exc:
            return Availability(False, f"no server answers at {self.base_url} ({type(exc).__name__})")
        if response.status_code in (401, 403):
            return Availability(False, f"{self.base_url} refused the API key (HTTP {response.status_code})")
        return Availability(True)

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def post(self, endpoint: str, body: dict[str, Any]) -> str:
        """One request to `completions` or `chat`; the answer's text."""
        path = "completions" if endpoint == "completions" else "chat/completions"
        last, attempt = "", 0
        for attempt in range(self.retries + 1):
            base = self.url()
            wait: float | None = None
            try:
                response = self.session().post(
                    f"{base}/{path}", json=body, headers=self.headers(), timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"{type(exc).__name__} from {base}"
            else:
                if response.status_code == 200:
                    return answer_text(response.json(), endpoint)
                last = f"HTTP {response.status_code}: {response.text[:200]!r}"
                if response.status_code not in RETRIED_STATUS:
                    break
                wait = _retry_after(response)
            if attempt < self.retries:
                pause = wait if wait is not None else self.backoff * 2**attempt * (0.5 + random.random())
                time.sleep(min(pause, self.max_backoff))
        raise RequestFailed(f"{last} (after {attempt + 1} attempts)")

    def post_each(self, endpoint: str, bodies: list[dict[str, Any]]) -> list[str | Exception]:
        """Every body through the pool, answers in order; a failed request is its exception, in place."""

        def one(body: dict[str, Any]) -> str | Exception:
            try:
                return self.post(endpoint, body)
            except Exception as exc:  # noqa: BLE001 - kept per request, reported by the caller
                return exc

        if len(bodies) <= 1:
            return [one(b) for b in bodies]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies))) as pool:
            return list(pool.map(one, bodies))


def answer_text(payload: dict[str, Any], endpoint: str) -> str:
    choice = (payload.get("choices") or [{}])[0]
    if endpoint == "completions":
        return str(choice.get("text") or "")
    return str((choice.get("message") or {}).get("content") or "")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
