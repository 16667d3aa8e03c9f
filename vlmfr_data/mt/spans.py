"""Protected spans through MT: mask before, restore after, and flag what the engine lost or duplicated.

Masked kinds (`<image>`, URLs, e-mails, HTML entities, code, placeholders) become numbered sentinels
(`XQZ0`) and come back verbatim. Checked kinds (numbers) stay in the text and are compared afterwards.
Both comparisons count exact tokens, never substrings: a sentence with "3.50" and "3" whose output
keeps both is intact (the "3" inside "3.50" is not a second "3"), and sentinel 1 is not counted inside
sentinel 10.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from vlmfr_data.segments import protected_spans


@dataclass(frozen=True)
class Sentinel:
    token: str
    original: str
    # A sentinel next to a letter or digit is padded with a space on that side when masked ("&quot;hi"
    # -> "XQZ0 hi"): glued, the engine would read one unknown word ("XQZ0hi") and leave it untranslated,
    # and "XQZ1" + "0" would read as sentinel 10. Restoring drops one space on a padded side.
    pad_left: bool = False
    pad_right: bool = False


@dataclass(frozen=True)
class Masked:
    text: str
    sentinels: tuple[Sentinel, ...]
    checked: tuple[tuple[str, str], ...]  # (kind, text) of unmasked spans that must appear as often after MT
    sentinel_format: str = "XQZ{}"


def mask(text: str, spans: list[dict[str, Any]], kinds: frozenset[str], sentinel: str) -> Masked:
    """Replace spans of `kinds` by numbered sentinels (spans are non-overlapping, sorted by start)."""
    out: list[str] = []
    sentinels: list[Sentinel] = []
    checked: list[tuple[str, str]] = []
    pos = 0
    for span in spans:
        if span["kind"] not in kinds:
            checked.append((span["kind"], span["text"]))
            continue
        start, end = span["start"], span["end"]
        token = sentinel.format(len(sentinels))
        pad_left = start > 0 and text[start - 1].isalnum()
        pad_right = end < len(text) and text[end].isalnum()
        out += [text[pos:start], " " if pad_left else "", token, " " if pad_right else ""]
        sentinels.append(Sentinel(token, span["text"], pad_left, pad_right))
        pos = end
    out.append(text[pos:])
    return Masked("".join(out), tuple(sentinels), tuple(checked), sentinel)


def sentinel_pattern(sentinel: str) -> re.Pattern[str]:
    """Matches any sentinel of this format (with the spaces around it); group 2 is the index."""
    prefix, _, suffix = sentinel.partition("{}")
    return re.compile(rf"( ?){re.escape(prefix)}(\d+){re.escape(suffix)}( ?)")


def restore(translated: str, masked: Masked) -> tuple[str, list[str]]:
    """Put the original spans back; return the text and the problems (empty when every span is intact)."""
    problems: list[str] = []
    found: Counter[int] = Counter()

    def put_back(m: re.Match[str]) -> str:
        index = int(m.group(2))
        if index >= len(masked.sentinels):
            return m.group()  # not one of ours (the engine made it up): left for the checks below
        found[index] += 1
        s = masked.sentinels[index]
        left = "" if s.pad_left else m.group(1)
        right = "" if s.pad_right else m.group(3)
        return f"{left}{s.original}{right}"

    if masked.sentinels:
        translated = sentinel_pattern(masked.sentinel_format).sub(put_back, translated)
    for index, s in enumerate(masked.sentinels):
        if found[index] != 1:
            problems.append(f"{'lost' if found[index] == 0 else 'duplicated'} {s.original!r}")
    if masked.checked:
        expected = Counter(text for _, text in masked.checked)
        kinds = {kind for kind, _ in masked.checked}
        got = Counter(span["text"] for span in protected_spans(translated) if span["kind"] in kinds)
        for original in expected:
            if got[original] < expected[original]:
                problems.append(f"lost {original!r}")
            elif got[original] > expected[original]:
                problems.append(f"duplicated {original!r}")
    return translated, problems
