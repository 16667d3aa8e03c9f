"""Protected spans through MT: mask before, restore after, and flag what the engine lost or duplicated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Masked:
    text: str
    sentinels: tuple[tuple[str, str], ...]  # (sentinel, original span text)
    checked: tuple[str, ...]  # unmasked protected texts that must appear as often in the output


def mask(text: str, spans: list[dict[str, Any]], kinds: frozenset[str], sentinel: str) -> Masked:
    """Replace spans of `kinds` by numbered sentinels (spans are non-overlapping, sorted by start)."""
    out, pairs, checked, pos = [], [], [], 0
    for span in spans:
        if span["kind"] in kinds:
            token = sentinel.format(len(pairs))
            out += [text[pos : span["start"]], token]
            pairs.append((token, span["text"]))
            pos = span["end"]
        else:
            checked.append(span["text"])
    out.append(text[pos:])
    return Masked("".join(out), tuple(pairs), tuple(checked))


def restore(translated: str, masked: Masked) -> tuple[str, list[str]]:
    """Put the original spans back; return the text and the problems (empty when every span is intact)."""
    problems = []
    for token, original in masked.sentinels:
        count = translated.count(token)
        if count != 1:
            problems.append(f"{'lost' if count == 0 else 'duplicated'} {original!r}")
        translated = translated.replace(token, original)
    for original in set(masked.checked):
        expected, found = masked.checked.count(original), translated.count(original)
        if found < expected:
            problems.append(f"lost {original!r}")
        elif found > expected:
            problems.append(f"duplicated {original!r}")
    return translated, problems
