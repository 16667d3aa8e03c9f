"""The registries of the data layer's extension points: dataset formats, MT backends, serving
engines, quality signals.

Entries name `module:Class`, so listing them imports nothing heavy, and this module imports nothing of
the project but the registry: the config validates names against it without importing the plug-ins.
Adding a plug-in is one new module plus one line here (or `REGISTRY.register` from your own code).
"""

from __future__ import annotations

from typing import Any

from vlmfr_data.registry import Registry

FORMATS: Registry[Any] = Registry(
    "dataset format",
    entries={
        "coco_captions": "vlmfr_data.datasets.coco_captions:CocoCaptions",
        "easy_vqa": "vlmfr_data.datasets.easy_vqa:EasyVQA",
        "llava": "vlmfr_data.datasets.llava:LlavaConversations",
        "sentences": "vlmfr_data.datasets.sentences:Sentences",
        "vqav2": "vlmfr_data.datasets.vqav2:VQAv2",
    },
)


BACKENDS: Registry[Any] = Registry(
    "MT backend",
    name_attr="backend",
    entries={
        "apertium": "vlmfr_data.mt.apertium:Apertium",
        "ctranslate2": "vlmfr_data.mt.ctranslate2_backend:CTranslate2",
        "hf_causal": "vlmfr_data.mt.hf_causal:HFCausal",
        "hf_seq2seq": "vlmfr_data.mt.hf_seq2seq:HFSeq2Seq",
        "openai_compatible": "vlmfr_data.mt.openai_compatible:OpenAICompatible",
    },
)


# Local servers speaking the OpenAI protocol, started by the pipeline for `serve = {...}` systems.
SERVING_ENGINES: Registry[Any] = Registry(
    "serving engine",
    name_attr="engine",
    entries={"llama_cpp": "vlmfr_data.serving.llama_cpp:LlamaCppServer"},
)


SIGNALS: Registry[Any] = Registry(
    "quality signal",
    entries={
        "comet": "vlmfr_data.quality.comet:Comet",
        "consensus": "vlmfr_data.quality.consensus:Consensus",
        "empty_output": "vlmfr_data.quality.heuristics:EmptyOutput",
        "engine_unknown_words": "vlmfr_data.quality.engine_marks:EngineUnknownWords",
        "french_lexicon": "vlmfr_data.quality.lexicon:FrenchLexicon",
        "language_leakage": "vlmfr_data.quality.lid:LanguageLeakage",
        "length_ratio": "vlmfr_data.quality.heuristics:LengthRatio",
        "lid_french": "vlmfr_data.quality.lid:FrenchLID",
        "llm_judge": "vlmfr_data.quality.llm_judge:LLMJudge",
        "repetition": "vlmfr_data.quality.heuristics:Repetition",
        "round_trip_chrf": "vlmfr_data.quality.round_trip:RoundTripChrF",
        "source_copy": "vlmfr_data.quality.heuristics:SourceCopy",
        "translation_likelihood": "vlmfr_data.quality.likelihood:TranslationLikelihood",
        "spans_intact": "vlmfr_data.quality.heuristics:SpansIntact",
        "use_similarity": "vlmfr_data.quality.similarity:USESimilarity",
    },
)
