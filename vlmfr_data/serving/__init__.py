"""Local model servers that speak the OpenAI protocol, started and stopped by the pipeline.

An MT system (or a judge) configured with `serve = { engine = "llama_cpp", model = ... }` asks
`local_server(spec)` for its server: the first call in a process starts it on 127.0.0.1 and waits for
its health check, later calls with the same spec reuse it, and `stop_all()` (the Dagster resource's
teardown, or the interpreter's exit) stops every server this process started. Engines are registered
in `vlmfr_data.plugins.SERVING_ENGINES`; adding one (vLLM, SGLang) is one module with the
`ServingEngine` shape below.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
from typing import Any, Protocol

from vlmfr_data import plugins
from vlmfr_data.registry import Availability

log = logging.getLogger(__name__)


class ServerFailed(RuntimeError):
    """The server did not come up (or died); the message says why and where its log is."""


class ServingEngine(Protocol):
    engine: str  # the registered name

    @property
    def model_id(self) -> str:
        """The served model's stable identity (file name and fingerprint), never its port."""
        ...

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1` once started."""
        ...

    def availability(self) -> Availability: ...

    def start(self) -> str:
        """Start, wait until healthy, return the base URL."""
        ...

    def healthy(self) -> bool: ...

    def stop(self) -> None: ...


_lock = threading.Lock()
# One engine per spec in this process, started or not: the systems that share a spec (a system and its
# translate-test partner) share its server, its model identity and its availability check.
_engines: dict[str, ServingEngine] = {}
_running: set[str] = set()


def create_engine(spec: dict[str, Any]) -> ServingEngine:
    options = dict(spec)
    engine = options.pop("engine", "llama_cpp")
    if engine not in plugins.SERVING_ENGINES and ":" not in engine:
        raise plugins.SERVING_ENGINES.unknown(engine)
    try:
        return plugins.SERVING_ENGINES.create(engine, **options)
    except TypeError as exc:
        raise TypeError(f"serving engine {engine!r}: bad options: {exc}") from exc


def spec_key(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, default=str)


def engine_for(spec: dict[str, Any]) -> ServingEngine:
    """This process's engine for `spec` (created on first use, not started)."""
    key = spec_key(spec)
    with _lock:
        if key not in _engines:
            _engines[key] = create_engine(spec)
        return _engines[key]


def local_server(spec: dict[str, Any]) -> ServingEngine:
    """The running server for `spec`, started (and health-checked) on first use in this process."""
    server, key = engine_for(spec), spec_key(spec)
    with _lock:
        if key in _running:
            if server.healthy():
                return server
            log.warning("local %s server stopped answering; restarting it", server.engine)
            server.stop()
            _running.discard(key)
        available = server.availability()
        if not available.ok:
            raise ServerFailed(f"cannot serve {spec.get('model')!r}: {available.reason}")
        server.start()
        _running.add(key)
        return server


def running() -> list[ServingEngine]:
    with _lock:
        return [_engines[key] for key in sorted(_running)]


def stop_all() -> int:
    """Stop every server this process started; returns how many."""
    with _lock:
        servers = [_engines[key] for key in _running]
        _running.clear()
    for server in servers:
        server.stop()
    return len(servers)


atexit.register(stop_all)
