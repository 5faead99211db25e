"""Model speed: encode / decode latency, bulk encoding of every GMD window, and training throughput.

Each figure is set beside its compute bound: the FLOPs of the work divided by the FLOP/s that one large
matmul reaches in the same run.

    python -m bench.bench_model [--checkpoint NAME] [--train-steps 6] [--write]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from bench.report import machine, publish
from explorer.datasets import gmd
from explorer.model import checkpoints
from explorer.model.precision import has_bf16_instructions, training_dtype
from explorer.model.runtime import XLA_BATCH_SIZES, CompiledModel
from explorer.tools import generate
from explorer.train.options import TrainOptions
from explorer.train.trainer import Trainer


def matmul_flops_per_second(size: int = 2048, repeats: int = 5) -> float:
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    matmul = tf.function(tf.matmul)
    matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        matmul(a, b).numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def forward_flops(config) -> float:
    """Multiply-adds ×2 of one example's forward pass (the LSTM and Dense matmuls; activations are noise)."""
    e, z, d, steps = config.encoder_units, config.z_size, config.decoder_units, config.steps
    encoder = 2 * steps * (27 + e) * 4 * e + 2 * (2 * e) * z
    condition = config.conductor_units or z
    decoder = steps * ((27 + condition + d) * 4 * d + (config.decoder_layers - 1) * 2 * d * 4 * d + d * 27)
    return 2.0 * (encoder + decoder)


def percentile_ms(function, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)), 1000 * float(np.percentile(times, 95))


def run(checkpoint: str | None, train_steps: int, batch_sizes: list[int]) -> list[str]:
    model = checkpoints.load_model(checkpoint)
    config = model.config
    windows = gmd.load_windows()
    flops_per_second = matmul_flops_per_second()
    one = windows.tensors[:1]
    start = time.perf_counter()
    model.warm_up()
    compile_seconds = time.perf_counter() - start
    uncached = CompiledModel(model.vae)  # the same compiled functions' cost, without the app's cache of seeds
    uncached.warm_up()
    encode_p50, encode_p95 = percentile_ms(lambda: uncached.encode(one), 30)
    decode_p50, decode_p95 = percentile_ms(lambda: model.decode(np.zeros((1, config.z_size), np.float32), 0.0), 30)
    sample16_p50, _ = percentile_ms(lambda: generate.sample(model, 16, 1.0, seed=1), 10)
    ends = windows.grooves([0, len(windows) // 2])
    interpolate_p50, _ = percentile_ms(lambda: generate.interpolate(model, *ends, steps=8), 20)
    start = time.perf_counter()
    generate.encode_tensors(model, windows.tensors)
    encode_all = time.perf_counter() - start
    flops = forward_flops(config)
    encoder_share = 2 * config.steps * (27 + config.encoder_units) * 4 * config.encoder_units * 2 / flops

    lines = [
        f"`python -m bench.bench_model` on {machine()}, Python "
        f"{platform.python_version()}, TensorFlow {tf.__version__}; checkpoint `{model.info.name}` "
        f"({config.name}); load average {os.getloadavg()[0]:.1f} at the start of the timing. "
        f"One 2048² float32 matmul reaches {flops_per_second / 1e9:.0f} GFLOP/s: the compute bound below is "
        f"FLOPs ÷ that.",
        "",
        "| what | measured | target | compute bound |",
        "|---|---|---|---|",
        f"| encode one groove | p50 {encode_p50:.1f} ms, p95 {encode_p95:.1f} ms | ≤ 10 ms | "
        f"{encoder_share * flops / flops_per_second * 1000:.2f} ms |",
        f"| decode one groove (T = 0) | p50 {decode_p50:.1f} ms, p95 {decode_p95:.1f} ms | ≤ 10 ms | "
        f"{(1 - encoder_share) * flops / flops_per_second * 1000:.2f} ms |",
        f"| sample 16 grooves (T = 1) | p50 {sample16_p50:.1f} ms | ≤ 50 ms | "
        f"{16 * (1 - encoder_share) * flops / flops_per_second * 1000:.1f} ms |",
        f"| interpolate 8 steps between two seeds (their encodings cached, as in the app) | p50 "
        f"{interpolate_p50:.1f} ms | ≤ 40 ms | |",
        f"| compile the XLA programs for batches of {', '.join(map(str, XLA_BATCH_SIZES))} (once per process; "
        f"the app does it in the background at start) | {compile_seconds:.1f} s | | |",
        f"| encode all {len(windows):,} GMD windows (batches of 512) | {encode_all:.1f} s "
        f"({len(windows) / encode_all:,.0f}/s) | ≤ 30 s | "
        f"{len(windows) * encoder_share * flops / flops_per_second:.1f} s |",
    ]
    train_tensors = windows.tensors[:4096]
    # bf16 A/B where the CPU has the instructions (elsewhere it is emulated, and `auto` never picks it)
    precisions = ("float32", "bfloat16") if has_bf16_instructions() else ("float32",)
    for batch in batch_sizes:
        for precision in precisions:
            trainer = Trainer(TrainOptions(config=config.name, batch_size=batch, steps=2, precision=precision,
                                           log_every=10**9, checkpoint_every=10**9, validate_every_epochs=10**9),
                              Path(tempfile.mkdtemp(prefix="bench-train-")), train_tensors, train_tensors[:64])
            trainer.run()  # the first steps trace the graph
            trainer.options = dataclasses.replace(trainer.options, steps=trainer.step + train_steps)
            start = time.perf_counter()
            trainer.run()
            rate = train_steps * batch / (time.perf_counter() - start)
            bound = flops_per_second / (3 * flops)  # forward + backward ≈ 3 × forward, in float32
            lines.append(f"| train {config.name}, batch {batch}, {precision} matmuls | {rate:.0f} examples/s | "
                         f"≥ 130 examples/s | {bound:.0f} examples/s (float32) |")
    lines += ["", f"`--precision auto` trains in {training_dtype('auto')} on this CPU."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--train-steps", type=int, default=6)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[64, 128, 256])
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    lines = run(args.checkpoint, args.train_steps, args.batch_sizes)
    publish("Model", lines, args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
