"""Progress of long work (translation, scoring, training): items done, rate and ETA.

Lines go to the `vlmfr` Python logger, so the terminal shows them (the CLI configures logging) and so
does the Dagster run log (the instance lists `vlmfr` under `python_logs.managed_python_loggers`). A
caller may also pass `emit` (e.g. Dagster's `context.log.info`) to receive the same lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("vlmfr.progress")


def format_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 90:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class Progress:
    """`update(n)` after each batch; lines are throttled to one per `every_seconds` (the last always shows).

    `unit` names the items ("segments", "steps"); `total` may be None when unknown (no ETA then).
    """

    label: str
    total: int | None
    unit: str = "items"
    every_seconds: float = 5.0
    emit: Callable[[str], None] | None = None
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    _last: float = 0.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def line(self, extra: str = "") -> str:
        total = f"/{self.total:,}" if self.total is not None else ""
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = ""
        if self.total is not None and self.rate > 0 and self.done < self.total:
            eta = f", ETA {format_seconds((self.total - self.done) / self.rate)}"
        tail = f", {extra}" if extra else ""
        return (
            f"{self.label}: {self.done:,}{total} {self.unit}{pct}, {self.rate:,.1f} {self.unit}/s, "
            f"{format_seconds(self.elapsed)} elapsed{eta}{tail}"
        )

    def update(self, n: int = 1, extra: str = "", force: bool = False) -> None:
        self.done += n
        now = time.perf_counter()
        finished = self.total is not None and self.done >= self.total
        if force or finished or now - self._last >= self.every_seconds:
            self._last = now
            self._say(self.line(extra))

    def _say(self, text: str) -> None:
        log.info(text)
        if self.emit is not None:
            self.emit(text)
