"""The CPU report and the choice of training precision."""

from __future__ import annotations

import pytest

from explorer.model import precision


def test_the_cpu_is_named_with_its_vector_flags():
    described = precision.cpu_description()
    assert described.startswith(precision.cpu_model())
    for flag in precision.REPORTED_FLAGS:
        assert f"{flag} {'yes' if flag in precision.cpu_flags() else 'no'}" in described


def test_forced_precisions_are_kept_and_unknown_ones_refused():
    assert precision.training_dtype("float32") == "float32"
    assert precision.training_dtype("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="unknown precision"):
        precision.training_dtype("fp8")


@pytest.mark.parametrize("has_instructions, speedup, expected", [
    (False, 3.0, "float32"),  # emulated bf16 is never chosen, whatever a matmul measures
    (True, 1.05, "float32"),  # the instructions, but no gain worth the casts
    (True, 1.6, "bfloat16"),
])
def test_auto_takes_bf16_only_where_it_has_the_instructions_and_is_faster(monkeypatch, has_instructions, speedup,
                                                                          expected):
    monkeypatch.setattr(precision, "has_bf16_instructions", lambda: has_instructions)
    monkeypatch.setattr(precision, "matmul_speedup", lambda: speedup)
    precision.bf16_is_faster.cache_clear()
    try:
        assert precision.training_dtype("auto") == expected
    finally:
        precision.bf16_is_faster.cache_clear()
