"""Apertium (Debian `apertium`, rule-based). No English-French pair exists, so the default is the pivot
English -> Spanish -> French (`apertium -u eng-spa | apertium -u es-fr`). `modes` makes any chain, e.g.
back-translation French -> English: ["fr-es", "spa-eng"].

One pipeline of processes per batch, one segment per line (segments never contain line breaks).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from functools import cached_property
from pathlib import Path

from vlmfr_data.mt.base import Availability, SystemDefaults

MODES_DIR = Path("/usr/share/apertium/modes")
PIVOT_CASE_FILTER = Path(__file__).with_name("apertium_pivot_case.py")
SEPARATOR = ".XQZSEP."  # an unknown word between full stops: passed through untouched, ends a sentence
_ENDS_SENTENCE = re.compile(r"[.?!][\"'»)\]]*\s*$")
PAIR_PACKAGES = {
    "eng-spa": "apertium-eng-spa",
    "spa-eng": "apertium-eng-spa",
    "es-fr": "apertium-fr-es",
    "fr-es": "apertium-fr-es",
}


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
        # "sep2": segments are sentence-separated in a batch (earlier caches could be misaligned).
        # "case1": a lower-case source stays lower case through the pivot ("Rojo" stayed untranslated).
        return f"{'|'.join(self.modes)} {out or 'unknown'} sep2 case1"

    def command(self, pivot_case_mask: str | None = None) -> str:
        """The shell pipeline; with a mask file, the pivot-case filter runs between consecutive stages."""
        stages = [f"apertium -u {m}" for m in self.modes]
        if pivot_case_mask is None or len(stages) < 2:
            return " | ".join(stages)
        case_filter = " ".join(
            shlex.quote(part) for part in (sys.executable, "-I", str(PIVOT_CASE_FILTER), pivot_case_mask)
        )
        return f" | {case_filter} | ".join(stages)

    def translate(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        if any("\n" in t or SEPARATOR in t for t in texts):
            raise ValueError("Apertium input must be one segment per line; a segment contains a line break")
        # A line break is only whitespace to Apertium: its transfer rules reorder words across it
        # ("yellow\nrectangle" -> "rectángulo amarillo"), shifting outputs onto the wrong segments.
        # Transfer never crosses a sentence end, so a segment that does not end one ("yellow") is
        # followed by a separator sentence; "What color is it?" needs none (keeps the cost near raw).
        needs_separator = [not _ENDS_SENTENCE.search(t) for t in texts]
        payload = "".join(
            f"{t}\n{SEPARATOR}\n" if sep else f"{t}\n" for t, sep in zip(texts, needs_separator, strict=True)
        )
        lower_case = [t[:1].islower() for t in texts]
        with ExitStack() as stack:
            mask_path = None
            if any(lower_case):  # else no filter process in the pipe
                # one mask line per payload line; separator lines are never touched
                mask_file = stack.enter_context(
                    tempfile.NamedTemporaryFile("w", suffix=".mask", encoding="utf-8")
                )
                mask_file.write(
                    "".join(
                        ("1\n" if low else "0\n") + ("0\n" if sep else "")
                        for low, sep in zip(lower_case, needs_separator, strict=True)
                    )
                )
                mask_file.flush()
                mask_path = mask_file.name
            command = self.command(mask_path)
            result = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command],
                input=payload,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"`{command}` exited {result.returncode}: {result.stderr.strip()[:500]}")
        lines = result.stdout.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        expected = len(texts) + sum(needs_separator)
        if len(lines) != expected:
            raise RuntimeError(
                f"apertium returned {len(lines)} lines, expected {expected} for {len(texts)} segments"
            )
        chunks, position = [], 0
        for sep in needs_separator:
            chunks.append(lines[position])
            if sep and lines[position + 1].strip() != SEPARATOR:
                raise RuntimeError(f"apertium output lost its alignment at segment {len(chunks) - 1}")
            position += 2 if sep else 1
        return [_match_initial_case(src, out.strip()) for src, out in zip(texts, chunks, strict=True)]


def _match_initial_case(source: str, output: str) -> str:
    """Apertium capitalises a sentence start; keep the source's lower-case start (easy-vqa is lower case)."""
    if source[:1].islower() and output[:1].isupper():
        return output[0].lower() + output[1:]
    return output
