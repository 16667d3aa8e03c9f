"""Spacing hygiene for MT output, applied to every system's output by `mt/run.py`.

It runs on the masked translation, before the spans are restored, so code, URLs, e-mails and other
masked spans are never touched. The rules, and what they deliberately leave alone:

- A run of spaces/tabs becomes one space; a run holding a no-break space (U+00A0, U+202F) keeps one.
- No space before `.` `,` `…` when the mark ends a word ("rouge ." -> "rouge."): the mark must be
  followed by a space, a closing bracket or quote, or the end. ".py" and ",5" (a letter or digit next)
  are left as they are.
- No space before `)` `]` `}` nor after `(` `[` `{`.
- French typography puts a (narrow no-break) space before `;` `:` `!` `?` and inside `« »`; engines
  write a space, a no-break space or nothing. Those spaces are neither added nor removed (only a
  double space there collapses to one), so "Où est la gare ?" and "Où est la gare?" both stay as written.
- Leading and trailing whitespace is stripped.
"""

from __future__ import annotations

import re

_NO_BREAK = "\u00a0\u202f"
_SPACE_RUN = re.compile(rf"[ \t{_NO_BREAK}]{{2,}}")
_BEFORE_STOP = re.compile(r"[ \t]+([.,…]+)(?=[\s)\]}»\"'”’]|$)")
_BEFORE_CLOSING = re.compile(r"[ \t]+([)\]}])")
_AFTER_OPENING = re.compile(r"([(\[{])[ \t]+")


def _collapse(match: re.Match[str]) -> str:
    run = match.group()
    return next((ch for ch in run if ch in _NO_BREAK), " ")


def tidy(text: str) -> str:
    text = _SPACE_RUN.sub(_collapse, text)
    text = _BEFORE_STOP.sub(r"\1", text)
    text = _BEFORE_CLOSING.sub(r"\1", text)
    text = _AFTER_OPENING.sub(r"\1", text)
    return text.strip()
