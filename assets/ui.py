"""`make ui`: the Dagster webserver on 127.0.0.1 plus the daemon, stopped cleanly by Ctrl-C or SIGTERM.

`dagster dev` does the same, but here it does not exit on SIGINT/SIGTERM when it is not in the
terminal's foreground process group (its children stop, the parent hangs), so this launcher owns the
two processes and their shutdown instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from vlmfr_data.config import vlmfr_home

REPO = Path(__file__).resolve().parents[1]


def prepare_dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(vlmfr_home() / "dagster")))
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists() or "max_concurrent_runs" not in instance_yaml.read_text():
        # offline machine: no telemetry; the library's `vlmfr` logger (progress, rate, ETA) goes to the run log;
        # the daemon starts at most one run per core (a corpus change starts four tier-model trainings at once)
        instance_yaml.write_text(
            "telemetry:\n  enabled: false\n"
            "python_logs:\n  python_log_level: INFO\n  managed_python_loggers:\n    - vlmfr\n"
            f"concurrency:\n  runs:\n    max_concurrent_runs: {max(1, os.cpu_count() or 1)}\n"
        )
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--no-daemon", action="store_true", help="webserver only (no schedules or run queue)")
    args = parser.parse_args(argv)
    prepare_dagster_home()
    bin_dir = Path(sys.executable).parent
    workspace = str(REPO / "workspace.yaml")
    commands = [
        [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(args.port), "-w", workspace]
    ]
    if not args.no_daemon:
        commands.append([str(bin_dir / "dagster-daemon"), "run", "-w", workspace])
    children = [subprocess.Popen(cmd, cwd=REPO) for cmd in commands]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Dagster UI: http://127.0.0.1:{args.port}  (Ctrl-C to stop)", flush=True)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 20
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM, -signal.SIGINT)]
    return 0 if stopping or not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
