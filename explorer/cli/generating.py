"""`evaluate`, `sample`, `reconstruct` and `interpolate`: a checkpoint's reconstructions, samples and paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from explorer.analysis.evaluate import evaluate
from explorer.analysis.realism import realism_report
from explorer.cli.common import CHECKPOINT_HELP, write_grooves
from explorer.errors import ExplorerError
from explorer.model import checkpoints
from explorer.notes.grid import WINDOW_BARS
from explorer.notes.midi_read import midi_to_grooves
from explorer.notes.record import NoteRecord
from explorer.tools import generate


def cmd_evaluate(args) -> int:
    from explorer.datasets import gmd  # pandas: only for the commands that read GMD

    model = checkpoints.load_model(args.checkpoint)
    windows = gmd.load_windows(args.split)
    tensors = windows.tensors[: args.limit]
    metrics = evaluate(model, tensors)
    metrics.update(checkpoint=model.info.name, split=args.split)
    if args.samples:

        metrics["realism"] = realism_report(model, tensors, windows.meta["midi_filename"][: args.limit],
                                            args.samples, args.temperatures, args.seed)
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    print(f"{model.info.name} on {args.split} ({metrics['windows']:,} windows, reconstruction from mu, T = 0)")
    print(f"hit precision {metrics['hit_precision']:.3f}  recall {metrics['hit_recall']:.3f}  "
          f"F1 {metrics['hit_f1']:.3f}  velocity MAE {metrics['velocity_mae']:.3f}  "
          f"offset MAE {metrics['offset_mae']:.3f}  mean KL {metrics['mean_kl']:.1f} nats")
    for name, row in metrics["per_class"].items():
        print(f"  {name:14s} P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}  "
              f"({row['support']:,} hits)")
    if args.samples:
        print_realism(metrics["realism"], args.split)
    return 0


def print_realism(report: dict, split: str) -> None:
    columns = {f"GMD {split}": report["real"]} | {f"T = {t}": s for t, s in report["temperatures"].items()}
    print(f"\n{report['samples']} samples per temperature, z from {report['prior']}, against the {split} windows "
          "(hits only)")
    rows = [("hits per window", "hits_per_window", ".1f"), ("velocity mean (MIDI)", "velocity_mean", ".1f"),
            ("velocity sd (MIDI)", "velocity_sd", ".1f"), ("timing mean (16ths)", "timing_mean", "+.3f"),
            ("timing sd (16ths)", "timing_sd", ".3f"), ("bar-to-bar repetition", "repetition", ".2f"),
            ("classes used", "classes_used", ".1f"), ("real-vs-generated accuracy", "classifier_accuracy", ".2f")]
    print(f"  {'':28s}" + "".join(f"{name:>12s}" for name in columns))
    for label, key, spec in rows:
        cells = [format(stats[key], spec) if key in stats else "" for stats in columns.values()]
        print(f"  {label:28s}" + "".join(f"{cell:>12s}" for cell in cells))


def cmd_sample(args) -> int:
    grooves = generate.sample(checkpoints.load_model(args.checkpoint), args.n, args.temperature, args.seed, args.bpm)
    for path in write_grooves(grooves, args.out):
        print(path)
    return 0


def cmd_reconstruct(args) -> int:
    from explorer.datasets import gmd  # pandas: only for the commands that read GMD

    model = checkpoints.load_model(args.checkpoint)
    if args.inputs:
        inputs = []
        for path in sorted(args.inputs.glob("*.mid")) + sorted(args.inputs.glob("*.midi")):
            try:
                inputs.append(midi_to_grooves(path)[0])  # the first 4-bar window of each file
            except ExplorerError as error:
                print(f"skipped: {error}", file=sys.stderr)
    else:
        windows = gmd.load_windows(args.split)
        inputs = windows.grooves(windows.one_per_performance()[:args.limit])
    if not inputs:
        print("error: no usable input grooves.", file=sys.stderr)
        return 2
    outputs = generate.reconstruct(model, inputs, args.temperature, args.seed)
    write_grooves(inputs, args.out / "input")
    write_grooves(outputs, args.out / "output")
    print(f"{len(inputs)} pairs in {args.out}/input and {args.out}/output")
    return 0


def first_window(path: Path):
    """A file's first 4 bars as a groove with the file's own notes of those bars behind it (so that it is written
    back as played); a file shorter than 4 bars, repeated to fill them (the model's view)."""
    record = NoteRecord.from_midi(path.read_bytes(), path.name)
    if record.bars >= WINDOW_BARS:
        return record.excerpt(0, WINDOW_BARS).groove()
    return midi_to_grooves(path)[0]


def cmd_interpolate(args) -> int:
    a, b = (first_window(path) for path in (args.a, args.b))
    grooves = generate.interpolate(checkpoints.load_model(args.checkpoint), a, b, args.steps, args.method,
                                   args.temperature, args.seed)
    for path in write_grooves(grooves, args.out):
        print(path)
    return 0


def add_commands(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="reconstruction metrics of a checkpoint on a GMD split")
    evaluate.add_argument("--split", default="test", choices=["train", "validation", "test"])
    evaluate.add_argument("--limit", type=int, help="only the first N windows")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.add_argument("--samples", type=int, default=0, metavar="N",
                          help="also judge N prior samples per temperature against the split's windows")
    evaluate.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8], metavar="T",
                          help="with --samples (default: 1 and the app's default, 0.8)")
    evaluate.add_argument("--seed", type=int, default=0, help="with --samples")
    evaluate.set_defaults(run=cmd_evaluate)

    sample = commands.add_parser("sample", help="random grooves from the prior, as MIDI files")
    sample.add_argument("--n", type=int, default=4)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--bpm", type=float, default=120.0)
    sample.add_argument("--out", type=Path, required=True)
    sample.set_defaults(run=cmd_sample)

    reconstruct = commands.add_parser("reconstruct", help="input/output MIDI pairs through the model")
    source = reconstruct.add_mutually_exclusive_group(required=True)
    source.add_argument("--split", choices=["train", "validation", "test"])
    source.add_argument("--inputs", type=Path, help="a folder of MIDI files (the first 4 bars of each)")
    reconstruct.add_argument("--limit", type=int, default=16,
                             help="with --split: how many windows (each from its own performance)")
    reconstruct.add_argument("--temperature", type=float, default=0.0)
    reconstruct.add_argument("--seed", type=int, default=0)
    reconstruct.add_argument("--out", type=Path, required=True)
    reconstruct.set_defaults(run=cmd_reconstruct)

    interpolate = commands.add_parser("interpolate", help="a latent path between two MIDI grooves")
    interpolate.add_argument("a", type=Path)
    interpolate.add_argument("b", type=Path)
    interpolate.add_argument("--steps", type=int, default=8)
    interpolate.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    interpolate.add_argument("--temperature", type=float, default=0.0)
    interpolate.add_argument("--seed", type=int, default=0)
    interpolate.add_argument("--out", type=Path, required=True)
    interpolate.set_defaults(run=cmd_interpolate)

    for command in (evaluate, sample, reconstruct, interpolate):
        command.add_argument("--checkpoint", help=CHECKPOINT_HELP)
