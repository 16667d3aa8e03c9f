"""Prompting an LLM to translate, shared by the in-process (`hf_causal`) and served (`openai_compatible`)
backends, so that both ask the same question and read the answer the same way.

The default prompt is few-shot ("English: ... / French: ..."); the answer is the first line of the
generation, cleaned of a prompt echo and wrapping quotes (base models run on into new "English:" lines).
The few-shot examples are generic sentences, deliberately not from any evaluation set.
"""

from __future__ import annotations

import re

DEFAULT_EXAMPLES: list[tuple[str, str]] = [
    ("The cat is sleeping on the sofa.", "Le chat dort sur le canapé."),
    ("Where is the train station?", "Où est la gare ?"),
    ("How many people are in the room?", "Combien de personnes y a-t-il dans la pièce ?"),
    ("The sky is clear today.", "Le ciel est dégagé aujourd'hui."),
]
LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish", "de": "German"}
QUOTE_PAIRS = {'"': '"', "'": "'", "«": "»", "“": "”"}
_ECHO = re.compile(r"^\s*(?:french|français|translation)\s*:\s*", re.IGNORECASE)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def few_shot_block(source_lang: str, target_lang: str, examples: list[tuple[str, str]]) -> str:
    """The example pairs as "English: ... / French: ..." lines, each pair followed by a blank line."""
    src, tgt = language_name(source_lang), language_name(target_lang)
    return "".join(f"{src}: {a}\n{tgt}: {b}\n\n" for a, b in examples)


def few_shot_prompt(text: str, source_lang: str, target_lang: str, examples: list[tuple[str, str]]) -> str:
    src, tgt = language_name(source_lang), language_name(target_lang)
    shots = few_shot_block(source_lang, target_lang, examples)
    return f"Translate {src} to {tgt}.\n\n{shots}{src}: {text}\n{tgt}:"


def instruction(text: str, source_lang: str, target_lang: str) -> str:
    """The user turn of a chat-style request."""
    return (
        f"Translate this {language_name(source_lang)} text to {language_name(target_lang)}. "
        f"Reply with the translation only.\n\n{text}"
    )


def clean_output(text: str) -> str:
    """First line of the generation, without a leading "French:" echo or wrapping quotes."""
    text = text.lstrip()
    first = text.split("\n", 1)[0]
    first = _ECHO.sub("", first).strip()
    if len(first) >= 2 and QUOTE_PAIRS.get(first[0]) == first[-1]:
        first = first[1:-1].strip()
    return first
