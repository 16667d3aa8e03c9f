"""Apertium (Debian `apertium`, rule-based). No English-French pair exists, so the default is the pivot
English -> Spanish -> French (`apertium -u eng-spa | apertium -u es-fr`). `modes` makes any chain, e.g.
back-translation French -> English: ["fr-es", "spa-eng"].

The engine processes stay alive across batches. Each mode runs once per system as its own pipeline of
Apertium programs in null-flush mode (`apertium-wblank-mode -z`: every program flushes and answers
when it reads a NUL byte), so a batch costs no start-up (starting both stages of the pivot takes about
0.3 s, which per batch of 5,000 segments cost 5-20% of the throughput). `apertium`'s own text
deformatter (`apertium-destxt`) swallows NUL bytes, so this module does the text (de)formatting
itself, the same way for one-segment-per-line input. A batch is sent in units of a few hundred lines:
while the French stage translates unit k, the Spanish stage already works on unit k+1, as in a shell
pipe. A failure or a timeout stops the processes; the next batch starts fresh ones.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from functools import cached_property
from pathlib import Path
from typing import IO

from vlmfr_data.mt.base import PIPELINE_VERSION, Availability, SystemDefaults

MODES_DIR = Path("/usr/share/apertium/modes")
SEPARATOR = ".XQZSEP."  # an unknown word between full stops: passed through untouched, ends a sentence
UNIT_LINES = 256  # lines per null-flushed unit: small enough to overlap the stages, large enough to be cheap
_CERTAIN_SENTENCE_END = re.compile(r"[?!][\"'»)\]]*\s*$")
PAIR_PACKAGES = {
    "eng-spa": "apertium-eng-spa",
    "spa-eng": "apertium-eng-spa",
    "es-fr": "apertium-fr-es",
    "fr-es": "apertium-fr-es",
    # the Catalan pivot (`modes = ["eng-cat", "cat-fra"]`): other rules, other errors than the Spanish one
    "eng-cat": "apertium-eng-cat",
    "cat-eng": "apertium-eng-cat",
    "cat-fra": "apertium-fra-cat",
    "fra-cat": "apertium-fra-cat",
}
# The mode that translates each EN->FR pivot stage back (translate-test turns a pivot round).
REVERSE_MODES = {"eng-spa": "spa-eng", "es-fr": "fr-es", "eng-cat": "cat-eng", "cat-fra": "fra-cat"}
# Apertium stream format (what apertium-destxt writes): these characters are backslash-escaped, and a
# run of blanks other than one space (line breaks, double spaces, tabs, `~`) is a "superblank" in [ ].
_STREAM_SPECIAL = re.compile(r"([\\$/<>@\[\]^{}])")
_BLANK_RUN = re.compile(r"[~\s]+")
_STREAM_TOKEN = re.compile(r"\\(.)|\[((?:\\.|[^\]\\])*)\]", re.DOTALL)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_INITIAL = re.compile(r"^([¿¡\"'«(\[]*)(\w)")
# Apertium's own confidence marks (what `apertium -u` hides): `*word` unknown to the analyser, `@word`
# missing from the bilingual dictionary, `#word` a form the generator cannot build. Marks sit right before
# a word; in a pivot the second stage marks the first stage's leftovers again (`**teal`).
_MARKED = re.compile(r"(?<![\w*#@])([*#@]+)(\w[\w'’-]*)")


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
        self._chain: _Chain | None = None

    def availability(self) -> Availability:
        if shutil.which("apertium") is None or shutil.which("apertium-wblank-mode") is None:
            return Availability(
                False,
                "the `apertium` binaries (3.8 or later) are not installed; run `sudo apt-get install apertium "
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
        # "sep3": a segment ending in a full stop gets a separator too ("No." read as the abbreviation
        # "Núm." let the next line join its sentence).
        # "case1": a lower-case source stays lower case through the pivot ("Rojo" stayed untranslated).
        # "marks1": unknown-word marks captured and stripped (before, `-u` dropped them).
        return f"{'|'.join(self.modes)} {out or 'unknown'} sep3 case1 marks1 {PIPELINE_VERSION}"

    def command(self) -> str:
        """The equivalent shell pipeline of the bare CLI (what the benchmark compares against)."""
        return " | ".join(f"apertium -u {m}" for m in self.modes)

    def close(self) -> None:
        """Stop the engine processes (they also stop when the system is garbage-collected or at exit)."""
        if self._chain is not None:
            self._chain.close()
            self._chain = None

    def translate(self, texts: list[str]) -> list[str]:
        return self.translate_marked(texts)[0]

    def translate_marked(self, texts: list[str]) -> tuple[list[str], list[list[str]]]:
        """Clean translations, and per segment the words the engine marked as unknown at any stage
        (`*teal`, `@foo`, `#bar`; the marks are stripped from the text)."""
        if not texts:
            return [], []
        if any("\n" in t or "\0" in t or SEPARATOR in t for t in texts):
            raise ValueError(
                "Apertium input must be one segment per line; a segment contains a line break or NUL"
            )
        # A line break is only whitespace to Apertium: its transfer rules reorder words across it
        # ("yellow\nrectangle" -> "rectángulo amarillo"), shifting outputs onto the wrong segments.
        # Transfer never crosses a sentence end, so a segment that does not end one ("yellow") is
        # followed by a separator sentence; "What color is it?" needs none (keeps the cost near raw).
        # A full stop is not always an end: "No." is read as the abbreviation "Núm.", whose dot ends
        # nothing, and the next line joined its sentence. So only "?" and "!" count as ends; after a
        # full stop the separator's own leading dot ends the sentence whatever the segment's dot was.
        # Every line then ends a sentence, so any line boundary is a safe place to flush.
        needs_separator = [not _CERTAIN_SENTENCE_END.search(t) for t in texts]
        lines: list[str] = []
        lower: list[bool] = []  # per line: lower-case the pivot's initial letter between stages
        for text, sep in zip(texts, needs_separator, strict=True):
            lines.append(text)
            lower.append(text[:1].islower())
            if sep:
                lines.append(SEPARATOR)
                lower.append(False)
        if self._chain is None or not self._chain.alive():
            self._chain = _Chain(self.modes)
        try:
            out, marks = self._chain.run(lines, lower, self.timeout_s)
        except BaseException:
            self.close()  # unknown state: the next batch starts fresh processes
            raise
        chunks, unknown, position = [], [], 0
        for sep in needs_separator:
            chunks.append(out[position])
            unknown.append(marks[position])
            if sep and out[position + 1].strip() != SEPARATOR:
                self.close()
                raise RuntimeError(f"apertium output lost its alignment at segment {len(chunks) - 1}")
            position += 2 if sep else 1
        return [
            _match_initial_case(src, text.strip()) for src, text in zip(texts, chunks, strict=True)
        ], unknown


def deformat(lines: list[str]) -> bytes:
    """One-segment-per-line text -> Apertium stream format, as `apertium-destxt -n` writes it."""
    text = _STREAM_SPECIAL.sub(r"\\\1", "\n".join(lines))
    text = _BLANK_RUN.sub(lambda m: m.group() if m.group() == " " else f"[{m.group()}]", text)
    return (text + "[][\n]").encode("utf-8")


def reformat(stream: bytes) -> list[str]:
    """Apertium stream format -> lines of text (what `apertium-retxt` does, without its end-dot rule)."""
    text = _STREAM_TOKEN.sub(
        lambda m: m.group(1) if m.group(1) is not None else _UNESCAPE.sub(r"\1", m.group(2)),
        stream.decode("utf-8"),
    )
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def strip_marks(line: str, source: str) -> tuple[str, list[str]]:
    """`line` without Apertium's unknown-word marks, and the marked words (mark kept: `*teal`). Where
    the stage's input itself has a character before a word (`*stars*`, `#1`, `@anna`), that character
    is text in this line, not a mark: it stays, and is not counted."""
    textual = {c for m in _MARKED.finditer(source) for c in m.group(1)}
    found: list[str] = []

    def unmark(m: re.Match[str]) -> str:
        if textual & set(m.group(1)):
            return m.group()
        found.append(m.group(1)[-1] + m.group(2))
        return m.group(2)

    return _MARKED.sub(unmark, line), found


def lower_initial(line: str) -> str:
    """Apertium capitalises every sentence start. In a pivot the next stage then reads "red" -> "Rojo" as
    a proper noun and leaves it in Spanish, so a line whose English source starts lower case gets its
    initial letter lowered between the stages."""
    return _INITIAL.sub(lambda m: m.group(1) + m.group(2).lower(), line, count=1)


class _Stage:
    """One Apertium mode as a long-lived null-flush pipeline: write a unit + NUL, read its translation."""

    def __init__(self, mode: str) -> None:
        script = subprocess.run(
            ["apertium-wblank-mode", "-z", str(MODES_DIR / f"{mode}.mode")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.mode = mode
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        # $1 = -g: unknown words marked (`apertium` without -u; the chain strips and records the marks);
        # $2 = no tagger option
        self.process = subprocess.Popen(
            ["bash", "-o", "pipefail", "-c", script, mode, "-g", ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            start_new_session=True,  # its own process group: close() stops every program of the pipe
        )
        self._pending = bytearray()

    def write(self, unit: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(unit + b"\0")
        self.process.stdin.flush()

    def read(self, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        start = 0
        while (end := self._pending.find(b"\0", start)) < 0:
            start = len(self._pending)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError(f"apertium {self.mode} gave no answer in time")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"apertium {self.mode} stopped: {self.error_text()}")
            self._pending += chunk
        unit = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return unit

    def error_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace").strip()[-500:] or "(no message)"

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        try:  # end of input: every program of the pipe finishes and bash reaps it
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stuck mid-unit (a failed batch): stop the whole group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.stderr.close()


class _Chain:
    """The stages of one system; a batch streams through them in units, one thread per stage boundary."""

    def __init__(self, modes: list[str]) -> None:
        self.stages = [_Stage(m) for m in modes]
        self._finalizer = weakref.finalize(self, _close_stages, self.stages)

    def alive(self) -> bool:
        return all(s.process.poll() is None for s in self.stages)

    def close(self) -> None:
        self._finalizer()

    def run(self, lines: list[str], lower: list[bool], timeout_s: float) -> tuple[list[str], list[list[str]]]:
        """Translated lines, and per line the words any stage marked (marks stripped before the next)."""
        deadline = time.monotonic() + timeout_s
        units = [(i, min(i + UNIT_LINES, len(lines))) for i in range(0, len(lines), UNIT_LINES)]
        errors: list[BaseException] = []
        marks: list[list[str]] = [[] for _ in lines]

        def guarded(work: object) -> None:
            try:
                work()  # type: ignore[operator]
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                errors.append(exc)
                _close_stages(self.stages)  # unblocks every other thread (EOF / broken pipe)

        # what each stage read, per line: a mark already in a stage's input is text (see strip_marks)
        inputs: list[list[str]] = [list(lines)] + [[""] * len(lines) for _ in self.stages[1:]]

        def feed() -> None:
            for start, end in units:
                self.stages[0].write(deformat(lines[start:end]))

        def pump(index: int) -> None:  # stage index -> index + 1, lowering marked initials
            for start, end in units:
                got = reformat(self.stages[index].read(deadline))
                if len(got) != end - start:
                    raise RuntimeError(
                        f"apertium {self.stages[index].mode}: {len(got)} lines for {end - start}"
                    )
                got = self._unmark(got, inputs[index][start:end], marks, start)
                inputs[index + 1][start:end] = got
                got = [lower_initial(g) if low else g for g, low in zip(got, lower[start:end], strict=True)]
                self.stages[index + 1].write(deformat(got))

        threads = [threading.Thread(target=guarded, args=(feed,), daemon=True)]
        threads += [
            threading.Thread(target=guarded, args=(lambda i=i: pump(i),), daemon=True)
            for i in range(len(self.stages) - 1)
        ]
        for thread in threads:
            thread.start()
        out: list[str] = []
        try:
            for start, end in units:
                got = reformat(self.stages[-1].read(deadline))
                if len(got) != end - start:
                    raise RuntimeError(f"apertium {self.stages[-1].mode}: {len(got)} lines for {end - start}")
                out += self._unmark(got, inputs[-1][start:end], marks, start)
        except BaseException as exc:
            errors.append(exc)
            _close_stages(self.stages)
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]  # the first is the cause; the others follow from stopping the processes
        return out, marks

    @staticmethod
    def _unmark(got: list[str], sources: list[str], marks: list[list[str]], start: int) -> list[str]:
        clean = []
        for offset, (line, source) in enumerate(zip(got, sources, strict=True)):
            text, found = strip_marks(line, source)
            marks[start + offset].extend(w for w in found if w not in marks[start + offset])
            clean.append(text)
        return clean


_CLOSING = threading.Lock()


def _close_stages(stages: list[_Stage]) -> None:
    with _CLOSING:  # a failing thread and the caller may both stop the chain
        for stage in stages:
            if not stage.stderr.closed:
                stage.close()


def _match_initial_case(source: str, output: str) -> str:
    """Apertium capitalises a sentence start; keep the source's lower-case start (easy-vqa is lower case)."""
    if source[:1].islower() and output[:1].isupper():
        return output[0].lower() + output[1:]
    return output
