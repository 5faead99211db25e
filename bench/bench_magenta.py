"""Training speed beside Magenta 2.1.4's own trainer, on this machine, in one run.

Magenta cannot install on Python 3.11 (the reason this project exists), so it runs from a Python 3.8 environment of
its own, outside the project's install; on this machine kind (pyenv ships 3.8), set up in ~5 minutes:

    ~/.pyenv/versions/3.8.18/bin/python -m venv /work/magenta-env
    /work/magenta-env/bin/pip install --no-deps magenta==2.1.4 note-seq==0.0.3 tf-slim \
        tensorflow-probability==0.17.0
    /work/magenta-env/bin/pip install tensorflow==2.9.1 numpy==1.21.6 'protobuf<3.20' dm-tree cloudpickle \
        decorator 'gast<=0.4.0' attrs intervaltree pretty_midi mido==1.2.6 pandas scipy librosa==0.7.2 \
        numba==0.49.1 llvmlite==0.32.1 resampy==0.2.2 pydub bokeh IPython tensorflow-datasets==4.6.0

    python -m bench.bench_magenta --magenta-python /work/magenta-env/bin/python [--write]

Both trainers read the same data: GMD's train split, 4/4 files. Magenta's `music_vae_train` gets them as a
TFRecord of NoteSequences (written by note_seq in Magenta's environment) and trains `groovae_4bar` at batch 128 as
it ships (its GrooveConverter, its data pipeline with the converted tensors cached in memory, a checkpoint a
minute); its rate is read from its own log (every 100 steps) once the cache is filled. This project's trainer then
trains `groovae_4bar` and the shipped preset at the same batch, in float32 and with `--precision auto`.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from bench.report import machine, publish
from explorer.datasets import gmd
from explorer.model.checkpoints import DEFAULT_CHECKPOINT, read_info, resolve
from explorer.model.precision import training_dtype
from explorer.train.options import TrainOptions
from explorer.train.trainer import Trainer

BATCH = 128
LOG_EVERY = 100  # Magenta's LoggingTensorHook: "global_step = N, loss = L (S sec)" every 100 steps

# Run by Magenta's Python: the listed MIDI files → one TFRecord of NoteSequences, as Magenta's own scripts make.
WRITE_NOTESEQUENCES = """
import sys
import note_seq
import tensorflow.compat.v1 as tf
out, paths = sys.argv[1], sys.argv[2:]
with tf.io.TFRecordWriter(out) as writer:
    for path in paths:
        writer.write(note_seq.midi_file_to_note_sequence(path).SerializeToString())
"""
MAGENTA_LOG = re.compile(r"global_step = (\d+), loss = [-\d.e+na]+ \(([\d.]+) sec\)")


def magenta_version(python: str) -> str:
    return subprocess.run([python, "-c", "import importlib.metadata as m, tensorflow as tf; "
                           "print(m.version('magenta'), tf.__version__)"],
                          capture_output=True, text=True, check=True).stdout.split()[-2:]


def magenta_rate(python: str, work: Path, steps: int) -> tuple[float, list[float]]:
    """Magenta's examples/s past the first two logged intervals (its first epoch converts and caches the data)."""
    info = gmd.load_info()
    root = gmd.gmd_root()
    files = info.loc[(info["split"] == "train") & (info["time_signature"] == "4-4"), "midi_filename"]
    records = work / "train.tfrecord"
    subprocess.run([python, "-c", WRITE_NOTESEQUENCES, str(records), *(str(root / f) for f in files)],
                   check=True, capture_output=True)
    log = subprocess.run([python, "-m", "magenta.models.music_vae.music_vae_train", "--config=groovae_4bar",
                          f"--run_dir={work / 'magenta_run'}", "--mode=train", f"--examples_path={records}",
                          f"--hparams=batch_size={BATCH}", f"--num_steps={steps}"],
                         capture_output=True, text=True)
    # each line comes twice (TensorFlow's logger and absl's): one interval per step
    intervals = list({int(step): float(seconds) for step, seconds in MAGENTA_LOG.findall(log.stderr)}.values())
    if len(intervals) < 3:
        raise RuntimeError(f"Magenta's trainer logged {len(intervals)} intervals: {log.stderr[-2000:]}")
    rates = [LOG_EVERY * BATCH / seconds for seconds in intervals]
    return statistics.median(rates[2:]), rates


def our_rate(config: str, precision: str, tensors, steps: int) -> float:
    options = TrainOptions(config=config, batch_size=BATCH, steps=3, precision=precision, log_every=10**9,
                           checkpoint_every=10**9, validate_every_epochs=10**9)
    trainer = Trainer(options, Path(tempfile.mkdtemp(prefix="bench-magenta-")), tensors, tensors[:64])
    trainer.run()  # the first steps trace the graph
    trainer.options = dataclasses.replace(options, steps=trainer.step + steps)
    start = time.perf_counter()
    trainer.run()
    return steps * BATCH / (time.perf_counter() - start)


def run(python: str, magenta_steps: int, our_steps: int) -> list[str]:
    versions = magenta_version(python)
    shipped = read_info(resolve(DEFAULT_CHECKPOINT)).config["name"]
    with tempfile.TemporaryDirectory(prefix="bench-magenta-") as work:
        magenta, magenta_rates = magenta_rate(python, Path(work), magenta_steps)
    tensors = gmd.load_windows("train").tensors
    ours = {(config, precision): our_rate(config, precision, tensors, our_steps)
            for config in ("groovae_4bar", shipped) for precision in ("float32", "auto")}
    auto = training_dtype("auto")
    lines = [
        f"`python -m bench.bench_magenta` on {machine()}: Magenta {versions[0]} (TensorFlow {versions[1]}, "
        f"Python 3.8) and this project (TensorFlow {tf.__version__}, Python {platform.python_version()}) one "
        f"after the other in one run, batch {BATCH}, GMD's train split. Magenta: `music_vae_train "
        f"--config=groovae_4bar`, {magenta_steps} steps, the median of its logged 100-step rates after the first "
        f"two (its data cache filling): {', '.join(f'{r:.0f}' for r in magenta_rates)} examples/s. This project: "
        f"{our_steps} steps after 3 of tracing; `auto` chose {auto} here.",
        "",
        "| trainer | model | matmuls | examples/s | × Magenta |",
        "|---|---|---|---:|---:|",
        f"| Magenta 2.1.4 `music_vae_train` | `groovae_4bar` | float32 | {magenta:.0f} | 1.00 |",
    ]
    for (config, precision), rate in ours.items():
        matmuls = auto if precision == "auto" else precision
        lines.append(f"| `python -m explorer train`{' (--precision auto)' if precision == 'auto' else ''} | "
                     f"`{config}` | {matmuls} | {rate:.0f} | {rate / magenta:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--magenta-python", required=True, help="the Python of an environment with magenta 2.1.4")
    parser.add_argument("--magenta-steps", type=int, default=400)
    parser.add_argument("--steps", type=int, default=120, help="this project's timed steps per configuration")
    parser.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    publish("Training beside Magenta", run(args.magenta_python, args.magenta_steps, args.steps), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
