"""Short segments in context: an answer is translated as the answer to its question, then recovered.

"no" alone is ambiguous to every engine here (Apertium: "ne" or "nº", Gemma-3-270M: "pas de"); as the
second sentence of "Is there a circle in the image? no." it is an answer. The runner (`mt/run.py`)
sends, for each short segment with contexts (`segment_contexts`), the segment alone plus one input per
context, `"<context> <segment>."`, through the same engine call, so this works for every backend. From
each output the last sentence is the segment's translation; the candidates vote, weighted by how often
the segment follows each context. When no span can be recovered (the engine merged or dropped the
answer), the segment's own translation stays.

No word list is involved: the split is on sentence ends, which the input puts there itself.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_ENDS_SENTENCE = re.compile(r"[.?!…][\"'»)\]]*$")
# a sentence end followed by blanks: where the engine's output is cut into sentences
_SENTENCE_BREAK = re.compile(r"(?<=[.?!…])[\"'»)\]]*\s+")
_TRAILING_PUNCT = re.compile(r"[\s.?!…:;,]+$")
_KEY_STRIP = re.compile(r"[\W_]+")
# a recovered span much longer than its source took part of the context with it
MAX_SPAN_RATIO = 4


def context_key(contexts: list[str]) -> str:
    """Cache key of a segment's contexts ("" when it has none): a translation is reused only for the
    same (string, contexts)."""
    if not contexts:
        return ""
    return hashlib.sha1("\n".join(contexts).encode("utf-8")).hexdigest()[:16]


def in_context(context: str, text: str, sentence_case: bool = False) -> str:
    """The engine input: the context as its own sentence, then the segment as the next one. The
    segment keeps its case (a capitalised answer reads as a proper noun to Apertium: "Verd" stays
    Catalan) and gets no full stop of its own ("no." comes out as the abbreviation "Núm.", a wrong
    answer; the Apertium backend also keeps such a line from running into the next one).

    `sentence_case` (the engine's `context_style == "sentence"`): both sentences capitalised and the
    segment closed with a full stop, the way an LLM saw dialogue in training; Gemma-3-270M drops a
    lower-case unpunctuated answer ("is there a brown shape? no" -> one sentence, no answer) but
    keeps a written one ("Is there a brown shape? No." -> "... ? Non.")."""
    context, text = context.strip(), text.strip()
    if not _ENDS_SENTENCE.search(context):
        context += "."
    if sentence_case:
        context, text = context[:1].upper() + context[1:], text[:1].upper() + text[1:]
        if not _ENDS_SENTENCE.search(text):
            text += "."
    return f"{context} {text}"


def recover_span(output: str | None, source: str) -> str | None:
    """The translation of the segment inside `output` (the last sentence), or None when the output
    does not have the context sentence and the segment sentence apart."""
    if not output:
        return None
    parts = [p for p in _SENTENCE_BREAK.split(output.strip()) if p.strip()]
    if len(parts) < 2:
        return None
    span = parts[-1].strip()
    if not _ENDS_SENTENCE.search(source.strip()):
        span = _TRAILING_PUNCT.sub("", span)
    if not span or len(span.split()) > MAX_SPAN_RATIO * max(len(source.split()), 1) + 2:
        return None
    if source[:1].islower() and span[:1].isupper() and not span[1:2].isupper():
        span = span[0].lower() + span[1:]  # "No." came out as "Non." where the data writes "no"
    return span


def _key(text: str) -> str:
    return _KEY_STRIP.sub("", unicodedata.normalize("NFC", text).casefold())


def vote(candidates: list[str | None], weights: list[int]) -> str | None:
    """The candidate with the largest total weight (case and punctuation aside); ties go to the first,
    i.e. the most frequent context. None when no candidate was recovered."""
    totals: dict[str, int] = {}  # in order of first appearance, so `max` breaks ties by the first
    first: dict[str, str] = {}
    for candidate, weight in zip(candidates, weights, strict=True):
        if candidate is None:
            continue
        key = _key(candidate)
        if not key:
            continue
        totals[key] = totals.get(key, 0) + weight
        first.setdefault(key, candidate)
    if not totals:
        return None
    return first[max(totals, key=totals.__getitem__)]
