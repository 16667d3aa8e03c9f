"""Both VLM families implement `VLMFamily` exactly: every protocol method, with its parameters, in order
(the training loop, the checkpoints and the predictor call them through the protocol)."""

from __future__ import annotations

import inspect

import pytest

from training.families.base import VLMFamily
from training.registry import FAMILIES

MEMBERS = [
    name for name, value in vars(VLMFamily).items() if inspect.isfunction(value) and not name.startswith("_")
]


def test_the_protocol_lists_what_the_code_calls() -> None:
    assert {"load", "save", "stored_weights", "parts", "vision_blocks", "lora_targets", "prepare"} <= set(
        MEMBERS
    )
    assert {"per_sample_loss", "answer"} <= set(MEMBERS)


@pytest.mark.parametrize("family", FAMILIES.names())
def test_each_family_has_every_protocol_method_with_its_parameters(family: str) -> None:
    cls = type(FAMILIES.create(family))
    assert isinstance(cls.name, str) and cls.name == family
    for member in MEMBERS:
        assert hasattr(cls, member), f"{cls.__name__} lacks {member}"
        expected = list(inspect.signature(getattr(VLMFamily, member)).parameters)
        actual = list(inspect.signature(getattr(cls, member)).parameters)
        assert actual == expected, f"{cls.__name__}.{member}{actual} != VLMFamily.{member}{expected}"
