"""Apertium (Debian `apertium`, rule-based). No English-French pair exists, so the default is the pivot
English -> Spanish -> French (`apertium -u eng-spa | apertium -u es-fr`). `modes` makes any chain, e.g.
back-translation French -> English: ["fr-es", "spa-eng"].

One pipeline of processes per batch, one segment per line (segments never contain line breaks).
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cached_property
from pathlib import Path

from vlmfr_data.mt.base import Availability, SystemDefaults, register_backend

MODES_DIR = Path("/usr/share/apertium/modes")
PAIR_PACKAGES = {
    "eng-spa": "apertium-eng-spa",
    "spa-eng": "apertium-eng-spa",
    "es-fr": "apertium-fr-es",
    "fr-es": "apertium-fr-es",
}


@register_backend("apertium")
class Apertium(SystemDefaults):
    backend = "apertium"

    def __init__(
        self,
        name: str = "apertium",
        modes: list[str] | None = None,
        source_lang: str = "en",
        target_lang: str = "fr",
        timeout_s: float = 600.0,
    ) -> None:
        self.name = name
        self.modes = list(modes or ["eng-spa", "es-fr"])
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.timeout_s = timeout_s

    def availability(self) -> Availability:
        if shutil.which("apertium") is None:
            return Availability(
                False,
                "the `apertium` binary is not installed; run `sudo apt-get install apertium "
                "apertium-eng-spa apertium-fr-es` (or `make setup` as root)",
            )
        missing = [m for m in self.modes if not (MODES_DIR / f"{m}.mode").exists()]
        if missing:
            packages = sorted({PAIR_PACKAGES.get(m, f"the package providing {m}") for m in missing})
            return Availability(False, f"Apertium modes {missing} are missing; install {' '.join(packages)}")
        return Availability(True)

    @cached_property
    def version(self) -> str:
        packages = ["apertium"] + sorted({PAIR_PACKAGES[m] for m in self.modes if m in PAIR_PACKAGES})
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Package}=${Version} ", *packages],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        except FileNotFoundError:
            out = ""
        return f"{'|'.join(self.modes)} {out or 'unknown'}"

    def command(self) -> str:
        return " | ".join(f"apertium -u {m}" for m in self.modes)

    def translate(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        if any("\n" in t for t in texts):
            raise ValueError("Apertium input must be one segment per line; a segment contains a line break")
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", self.command()],
            input="\n".join(texts) + "\n",
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`{self.command()}` exited {result.returncode}: {result.stderr.strip()[:500]}"
            )
        lines = result.stdout.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != len(texts):
            raise RuntimeError(f"apertium returned {len(lines)} lines for {len(texts)} segments")
        return [line.strip() for line in lines]
