"""Which CPU this is, and whether training should multiply in bfloat16 on it.

Machines of this project's kind differ: some x86-64 CPUs have AVX2 only, others AVX-512 with AVX512-BF16 (and
AMX on Intel Sapphire Rapids and later), where oneDNN multiplies bf16 matrices 1.5–3× faster than float32. On the
others bf16 is emulated and slower. Training uses bf16 matmuls (float32 weights, sums and cell states) only where
the CPU has the instructions and a quick A/B on the spot says they are faster; inference always runs in float32.
"""

from __future__ import annotations

import functools
import platform
import time
from pathlib import Path

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
PRECISIONS = ("auto", "float32", "bfloat16")
BF16_MIN_SPEEDUP = 1.2  # below this the casts around each matmul eat the gain


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_description() -> str:
    """The CPU as benchmark reports and the model card name it, e.g. 'AMD EPYC (avx2 yes, avx512f yes, …)'."""
    flags = cpu_flags()
    listed = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in REPORTED_FLAGS)
    return f"{cpu_model()} ({listed})"


def has_bf16_instructions() -> bool:
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


def matmul_speedup(rows: int = 512, inner: int = 512, columns: int = 2048, repeats: int = 30, trials: int = 5) -> float:
    """bf16 over float32 throughput of a training-sized matmul, measured now: the two timed in turn, best of
    `trials` each, so that a burst of work on the other core slows both alike (one matmul of the encoder's
    [128, 768] × [768, 2048] timed apart measured 1.1–2.2× on one busy EPYC, where a whole training step runs
    1.4–2.0× faster in bf16; this shape, timed in turn, 1.7–2.2×)."""
    import tensorflow as tf

    def timer(dtype):
        a = tf.cast(tf.random.normal([rows, inner]), dtype)
        b = tf.cast(tf.random.normal([inner, columns]), dtype)
        matmul = tf.function(tf.matmul)
        matmul(a, b).numpy()

        def seconds() -> float:
            start = time.perf_counter()
            for _ in range(repeats):
                result = matmul(a, b)
            result.numpy()
            return time.perf_counter() - start
        return seconds

    float32, bfloat16 = timer(tf.float32), timer(tf.bfloat16)
    best32 = best16 = float("inf")
    for _ in range(trials):
        best32, best16 = min(best32, float32()), min(best16, bfloat16())
    return best32 / best16


def training_dtype(precision: str = "auto") -> str:
    """'float32' or 'bfloat16': `precision` itself, or with 'auto' bf16 where the CPU has the instructions and
    measures at least BF16_MIN_SPEEDUP faster."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}' ({', '.join(PRECISIONS)})")
    if precision != "auto":
        return precision
    return "bfloat16" if bf16_is_faster() else "float32"


@functools.cache
def bf16_is_faster() -> bool:
    """Whether this CPU has bf16 instructions and multiplies at least BF16_MIN_SPEEDUP faster with them
    (measured once per process, ~2 s)."""
    return has_bf16_instructions() and matmul_speedup() >= BF16_MIN_SPEEDUP
