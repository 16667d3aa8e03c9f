"""Protected spans through MT: fenced code, exact-token span counts, e-mails and HTML entities,
output spacing, Spanish leaks. Fixtures are written here; Apertium tests run the real engine."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from vlmfr_data.config import MTSystemConfig
from vlmfr_data.mt import create_system
from vlmfr_data.mt.run import translate_segments
from vlmfr_data.mt.spans import mask, restore
from vlmfr_data.mt.tidy import tidy
from vlmfr_data.segments import decompose, protected_spans, rebuild_turns, segment_id, segments_from_texts
from vlmfr_data.store import Warehouse

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None or not Path("/usr/share/apertium/modes/es-fr.mode").exists(),
    reason="Debian packages apertium apertium-eng-spa apertium-fr-es are not installed (make setup as root)",
)
MASKED = frozenset({"special", "url", "email", "entity", "code", "placeholder"})

CODE_TURN = (
    "Here is how to greet the world in Python:\n"
    "```python\n"
    'print("Hello, world! What color is the shape?")\n'
    "```\n"
    "It prints a greeting."
)


def _rebuild(text: str) -> str:
    return "".join(p.literal or p.surface or p.text_en or "" for p in decompose(text))


def test_fenced_code_block_is_one_literal_fence_and_tag_included() -> None:
    pieces = decompose(CODE_TURN)
    segments = [p.text_en for p in pieces if p.segment_id]
    assert segments == ["Here is how to greet the world in Python:", "It prints a greeting."]
    literals = [p.literal for p in pieces if p.literal]
    assert literals == ['\n```python\nprint("Hello, world! What color is the shape?")\n```\n']
    assert _rebuild(CODE_TURN) == CODE_TURN
    # tilde fences, indented fences, an empty block, and an unclosed fence (runs to the end of the turn)
    for text, code in [
        ("Run:\n\n  ~~~sh\nls -la\n~~~\n\nDone.", "\n\n  ~~~sh\nls -la\n~~~"),
        ("```\n```", "```\n```"),
        ("Unclosed:\n```js\nalert('translate me')\nstill code", "\n```js\nalert('translate me')\nstill code"),
    ]:
        assert any(code in (p.literal or "") for p in decompose(text)), text
        assert _rebuild(text) == text
        assert all(
            "translate me" not in (p.text_en or "") and "ls -la" not in (p.text_en or "")
            for p in decompose(text)
        )
    # three backticks inside a line are inline code, a masked span of its segment
    (piece,) = decompose("Say ```ls -la``` to list files.")
    assert [(s["kind"], s["text"]) for s in protected_spans(piece.text_en)] == [("code", "```ls -la```")]


@needs_apertium
def test_fenced_code_comes_back_byte_for_byte_in_french(warehouse: Warehouse) -> None:
    pieces = decompose(CODE_TURN)
    rows = [
        {
            "dataset": "d",
            "split": "s",
            "sample_id": "1",
            "turn_index": 0,
            "piece_index": i,
            "literal": p.literal,
            "segment_id": p.segment_id,
            "surface": p.surface,
        }
        for i, p in enumerate(pieces)
    ]
    segments = segments_from_texts([p.text_en for p in pieces if p.text_en])
    system = create_system(MTSystemConfig("apertium", "apertium"))
    translate_segments(warehouse, system, segments)
    french = warehouse.sql("SELECT segment_id, text_fr, spans_ok FROM translations")
    assert french["spans_ok"].all()
    (turn,) = rebuild_turns(pl.DataFrame(rows), french, text_column="text_fr")["text"].to_list()
    assert '\n```python\nprint("Hello, world! What color is the shape?")\n```\n' in turn
    assert not turn.startswith("Here is")  # the prose around it was translated


def test_span_counts_compare_exact_tokens_not_substrings() -> None:
    text = "The coffee costs 3.50 and the cake costs 3."
    masked = mask(text, protected_spans(text), MASKED, "XQZ{}")
    assert masked.checked == (("number", "3.50"), ("number", "3"))
    # every number intact: the "3" inside "3.50" is not a second "3"
    assert restore("Le café coûte 3.50 et le gâteau coûte 3.", masked) == (
        "Le café coûte 3.50 et le gâteau coûte 3.",
        [],
    )
    assert restore("Le café coûte 3.50 et le gâteau aussi.", masked)[1] == ["lost '3'"]
    assert restore("Le café coûte 3.50, 3 et 3.", masked)[1] == ["duplicated '3'"]
    # sentinel 1 is not counted inside sentinel 10
    many = " ".join(f"{{v{i}}}" for i in range(11))
    masked_many = mask(many, protected_spans(many), MASKED, "XQZ{}")
    assert masked_many.text.split()[10] == "XQZ10"
    restored, problems = restore(masked_many.text.replace("XQZ1 ", ""), masked_many)
    assert problems == ["lost '{v1}'"] and restored == many.replace("{v1} ", "")


def test_emails_and_html_entities_are_masked_restored_and_their_loss_flagged() -> None:
    text = "Write to anna.b+vqa@example.org and say &quot;hello&quot; &amp; &#39;bye&#39; at www.example.org."
    kinds = [(s["kind"], s["text"]) for s in protected_spans(text)]
    assert kinds == [
        ("email", "anna.b+vqa@example.org"),
        ("entity", "&quot;"),
        ("entity", "&quot;"),
        ("entity", "&amp;"),
        ("entity", "&#39;"),
        ("entity", "&#39;"),
        ("url", "www.example.org"),
    ]
    masked = mask(text, protected_spans(text), MASKED, "XQZ{}")
    # a sentinel next to a letter is padded, so the engine still sees the word ("XQZ1 hello")
    assert masked.text == "Write to XQZ0 and say XQZ1 hello XQZ2 XQZ3 XQZ4 bye XQZ5 at XQZ6."
    out = "Écris à XQZ0 et dis XQZ1 bonjour XQZ2 XQZ3 XQZ4 au revoir XQZ5 à XQZ6."
    assert restore(out, masked) == (
        "Écris à anna.b+vqa@example.org et dis &quot;bonjour&quot; &amp; &#39;au revoir&#39; à www.example.org.",
        [],
    )
    # an engine that drops the e-mail and an entity: both are flagged
    _, problems = restore("Écris à et dis XQZ1 bonjour XQZ3 XQZ4 au revoir XQZ5 à XQZ6.", masked)
    assert problems == ["lost 'anna.b+vqa@example.org'", "lost '&quot;'"]
    # the e-mail's domain is not taken for a www URL, a URL's user part is not an e-mail
    assert [s["kind"] for s in protected_spans("mail bob@www.example.com or https://u@h.org/x")] == [
        "email",
        "url",
    ]


class _DroppingEngine:
    """Stands in for an engine that silently drops what it does not understand (here: sentinels)."""

    name = backend = "dropper"
    source_lang, target_lang = "en", "fr"
    masked_kinds = MASKED
    sentinel = "XQZ{}"
    cost_per_call = 0.0
    version = "test-1"

    def availability(self):  # noqa: ANN201
        from vlmfr_data.registry import Availability

        return Availability(True)

    def translate(self, texts: list[str]) -> list[str]:
        return [re.sub(r" ?XQZ\d+", "", t) for t in texts]


def test_lost_email_and_entity_set_spans_ok_false(warehouse: Warehouse) -> None:
    texts = ["Mail me at bob@example.org today.", "Tom &amp; Jerry are here."]
    report = translate_segments(warehouse, _DroppingEngine(), segments_from_texts(texts))
    rows = dict(
        (sid, (ok, problems))
        for sid, ok, problems in warehouse.sql(
            "SELECT segment_id, spans_ok, span_problems FROM translations"
        ).rows()
    )
    assert report.span_flags == 2
    assert rows[segment_id(texts[0])] == (False, ["lost 'bob@example.org'"])
    assert rows[segment_id(texts[1])] == (False, ["lost '&amp;'"])


@needs_apertium
def test_apertium_keeps_emails_and_entities(warehouse: Warehouse) -> None:
    texts = ["He said &quot;hello&quot; to me.", "Write to anna@example.org now."]
    system = create_system(MTSystemConfig("apertium", "apertium"))
    translate_segments(warehouse, system, segments_from_texts(texts))
    out = dict(warehouse.sql("SELECT segment_id, text_fr FROM translations").rows())
    assert warehouse.sql("SELECT bool_and(spans_ok) FROM translations").item()
    # the padding spaces are gone again: the entities hug the translated word, as in the source
    assert re.search(r" &quot;\w+&quot; ", out[segment_id(texts[0])]), out
    assert "anna@example.org" in out[segment_id(texts[1])]


def test_tidy_spacing_rules() -> None:
    assert tidy("Il écrit à  XQZ0 .") == "Il écrit à XQZ0."
    assert tidy("un cercle , un carré ( rouge ) .") == "un cercle, un carré (rouge)."
    # French typography: the space before ? ! : ; is left as written, never added nor removed
    assert tidy("Où est la gare ?") == "Où est la gare ?"
    assert tidy("Où est la gare?") == "Où est la gare?"
    assert tidy("Attention  : rouge !") == "Attention : rouge !"
    assert tidy("Attention\u202f: rouge") == "Attention\u202f: rouge"
    assert tidy("Attention \u202f: rouge") == "Attention\u202f: rouge"  # a run keeps its no-break space
    # a mark followed by a letter or digit is not a sentence mark: ".py", ",5"
    assert tidy("le fichier .py et 3 ,5") == "le fichier .py et 3 ,5"
    assert tidy("  « bonjour » .  ") == "« bonjour »."


def test_tidy_runs_before_restoring_so_code_keeps_its_spacing() -> None:
    text = "Type `a  ,  b` and then stop."
    masked = mask(text, protected_spans(text), MASKED, "XQZ{}")
    assert restore(tidy("Tapez  XQZ0 et puis arrêtez ."), masked) == ("Tapez `a  ,  b` et puis arrêtez.", [])


@pytest.mark.skipif(shutil.which("lt-proc") is None, reason="needs Apertium's lt-proc and dictionaries")
def test_language_leakage_counts_spanish_words() -> None:
    from vlmfr_data.quality.lid import LanguageLeakage

    signal = LanguageLeakage()
    if not signal.availability().ok:
        pytest.skip(signal.availability().reason)
    assert "es-lexicon=" in signal.version and "none" not in signal.version
    french = [
        "il y a un rectángulo amarillo",  # accent, and a Spanish word without one
        "hay un cercle muy rouge",  # short Spanish words fastText cannot judge
        "une femme jeune dista du pont.",
        "Le chat dort sur le canapé.",  # French: "dort" is not German "dort"
        "Quelle couleur est la forme ?",
    ]
    scores = signal.score(pl.DataFrame({"text_fr": french}))
    assert scores["detail"].to_list() == ["rectángulo,amarillo", "hay,muy", "dista", None, None]
    assert scores["value"].to_list()[:2] == [2 / 4, 2 / 5]  # words of 2+ letters
    assert scores["score"].to_list()[3:] == [1.0, 1.0]
