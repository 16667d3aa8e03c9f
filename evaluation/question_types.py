"""Question types derived from the data, not from a per-string table.

1. Answers that are all yes/no make a `yes/no` question; answers that are all numbers a `number`
   question (the VQA v2 answer types).
2. The other questions are grouped by shared answers (connected components: two questions that ever
   got the same answer are the same type), so "what is the red shape?" joins "what shape is present?"
   through "circle", and colour questions join through "red".
3. Each group is named by the noun that follows "what"/"which" in its questions ("what color is ...",
   "what shape is ...": the VQA question-type prefix), the most frequent one; `other` when none does.
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

YES_NO = frozenset({"yes", "no"})
_NUMBER = re.compile(r"^\d+([.,]\d+)?$")
_WH_NOUN = re.compile(r"^\s*(?:what|which)\s+([a-z]+)\b")
# words after "what" that are verbs or determiners, not the asked-for noun
_NOT_A_NOUN = frozenset(
    {"is", "are", "was", "were", "does", "do", "did", "can", "kind", "type", "the", "a", "an"}
)


def question_types(pairs: pl.DataFrame) -> pl.DataFrame:
    """`question`, `answer` (English, one row per occurrence) -> `question`, `question_type` per distinct question."""
    answers = (
        pairs.select(
            pl.col("question").str.to_lowercase().str.strip_chars(),
            pl.col("answer").str.to_lowercase().str.strip_chars(),
        )
        .unique()
        .group_by("question")
        .agg(pl.col("answer").sort())
        .sort("question")
    )
    types: dict[str, str] = {}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner_of_answer: dict[str, str] = {}
    open_questions = []
    for question, answer_list in answers.iter_rows():
        if set(answer_list) <= YES_NO:
            types[question] = "yes/no"
        elif all(_NUMBER.match(a) for a in answer_list):
            types[question] = "number"
        else:
            open_questions.append(question)
            parent[question] = question
            for answer in answer_list:
                if answer in owner_of_answer:
                    a, b = find(question), find(owner_of_answer[answer])
                    if a != b:
                        parent[a] = b
                else:
                    owner_of_answer[answer] = question
    groups: dict[str, list[str]] = {}
    for question in open_questions:
        groups.setdefault(find(question), []).append(question)
    for members in groups.values():
        nouns = Counter(
            m.group(1) for q in members if (m := _WH_NOUN.match(q)) and m.group(1) not in _NOT_A_NOUN
        )
        label = nouns.most_common(1)[0][0] if nouns else "other"
        types.update(dict.fromkeys(members, label))
    return pl.DataFrame(
        {"question": list(types), "question_type": list(types.values())},
        schema={"question": pl.String(), "question_type": pl.String()},
    )
