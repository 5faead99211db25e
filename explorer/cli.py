"""`python -m explorer …`: a thin command line over the library functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from explorer.audio import DEFAULT_KIT, KITS
from explorer.augment import AUGMENTATIONS, DEFAULT_AUGMENTATIONS
from explorer.checkpoints import DRUMIFY_CHECKPOINT
from explorer.continuation import FILL_EVERY_CHOICES, FILL_SOURCES, ContinueOptions
from explorer.drumify import DEFAULT_TEMPERATURE
from explorer.errors import ExplorerError
from explorer.groove import DRUM_CLASSES
from explorer.precision import PRECISIONS


def _print_json_or_text(data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    for key, value in data.items():
        print(f"{key}: {value}")


def cmd_info(args) -> int:
    from explorer import dataset

    info = dataset.summary(dataset.load_info(), windows=dataset.load_windows())
    if not args.json:  # one readable line per count table
        info = {key: ", ".join(f"{k} {v:,}" for k, v in value.items()) if isinstance(value, dict) else value
                for key, value in info.items()}
        info["credit"] = dataset.GMD_CREDIT
    _print_json_or_text(info, args.json)
    return 0


def cmd_checkpoints(args) -> int:
    from explorer import checkpoints

    rows = [{"name": info.name, "config": info.config.get("name"), "heads": info.heads,
             "sampling_prior": info.sampling_prior, "source": info.source, "test_hit_f1": info.metrics.get("hit_f1"),
             "sha256": info.sha256} for info in checkpoints.list_checkpoints()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            f1 = (f"unrefined test hit F1 {row['test_hit_f1']:.3f}" if row["test_hit_f1"]  # from mu, T = 0
                  else "not evaluated")
            print(f"{row['name']}: {row['config']}, {row['heads']} heads, samples from {row['sampling_prior']}, {f1}, "
                  f"from {row['source']}")
    return 0


def cmd_render(args) -> int:
    from explorer import audio

    if not args.midi.is_file():
        print(f"error: '{args.midi}' does not exist.", file=sys.stderr)
        return 2
    choice = audio.choose_renderer(args.renderer)
    samples = audio.render_array(args.midi, bpm=args.bpm, loops=args.loops, renderer=args.renderer, kit=args.kit)
    try:
        args.out.write_bytes(audio.to_wav(samples))
    except OSError as error:
        print(f"error: cannot write '{args.out}': {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(samples) / audio.SAMPLE_RATE:.1f} s, {choice.description}")
    return 0


def chosen_augmentations(named: list[str] | None) -> tuple[str, ...]:
    """`--augment` absent: none; alone: the default ones; with names: those."""
    if named is None:
        return ()
    return tuple(named) or DEFAULT_AUGMENTATIONS


def cmd_train(args) -> int:
    from explorer.train import TrainOptions, train

    init_from, config = args.init_from, args.config
    if args.midi_dir and init_from is None:  # your own grooves: fine-tune the shipped model by default
        from explorer.checkpoints import DEFAULT_CHECKPOINT, read_info, resolve

        init_from = DEFAULT_CHECKPOINT
        config = config or read_info(resolve(init_from)).config["name"]
        print(f"Fine-tuning {init_from} ({config}) on {args.midi_dir}; --init-from chooses another start.")
    options = TrainOptions(config=config or "groovae_4bar", steps=args.steps, time_budget_minutes=args.time_budget,
                           batch_size=args.batch_size, dropout_keep=args.dropout_keep,
                           learning_rate=args.learning_rate, free_bits=args.free_bits, beta=args.beta,
                           hit_weight=args.hit_weight, windows_per_performance=args.windows_per_performance,
                           seed=args.seed, init_from=init_from, augment=chosen_augmentations(args.augment),
                           strategy=args.strategy, precision=args.precision,
                           checkpoint_every=args.checkpoint_every or TrainOptions.checkpoint_every,
                           midi_dir=str(args.midi_dir) if args.midi_dir else None,
                           validation_dir=str(args.validation_dir) if args.validation_dir else None,
                           validation_fraction=args.validation_fraction, drum_map=str(args.drum_map),
                           collective_timeout=args.collective_timeout or TrainOptions.collective_timeout)
    print(json.dumps(train(options, args.out, resume=args.resume)))
    return 0


def _write_grooves(grooves, directory: Path, bpm: float | None = None) -> list[Path]:
    from explorer.groove import groove_to_midi

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, groove in enumerate(grooves):
        path = directory / f"{index:03d}.mid"
        path.write_bytes(groove_to_midi(groove, bpm))
        paths.append(path)
    return paths


def cmd_evaluate(args) -> int:
    from explorer import checkpoints, dataset
    from explorer.evaluate import evaluate

    model = checkpoints.load_model(args.checkpoint)
    windows = dataset.load_windows(args.split)
    tensors = windows.tensors[: args.limit]
    metrics = evaluate(model, tensors)
    metrics.update(checkpoint=model.info.name, split=args.split)
    if args.samples:
        from explorer.realism import realism_report

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
        _print_realism(metrics["realism"], args.split)
    return 0


def _print_realism(report: dict, split: str) -> None:
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
    from explorer import checkpoints, generate

    grooves = generate.sample(checkpoints.load_model(args.checkpoint), args.n, args.temperature, args.seed, args.bpm)
    for path in _write_grooves(grooves, args.out):
        print(path)
    return 0


def cmd_reconstruct(args) -> int:
    from explorer import checkpoints, dataset, generate
    from explorer.midi_reader import midi_to_grooves

    model = checkpoints.load_model(args.checkpoint)
    if args.inputs:
        inputs = []
        for path in sorted(args.inputs.glob("*.mid")) + sorted(args.inputs.glob("*.midi")):
            try:
                inputs.append(midi_to_grooves(path)[0])  # the first 4-bar window of each file
            except ExplorerError as error:
                print(f"skipped: {error}", file=sys.stderr)
    else:
        windows = dataset.load_windows(args.split)
        inputs = windows.grooves(windows.one_per_performance()[:args.limit])
    if not inputs:
        print("error: no usable input grooves.", file=sys.stderr)
        return 2
    outputs = generate.reconstruct(model, inputs, args.temperature, args.seed)
    _write_grooves(inputs, args.out / "input")
    _write_grooves(outputs, args.out / "output")
    print(f"{len(inputs)} pairs in {args.out}/input and {args.out}/output")
    return 0


def _first_window(path: Path):
    """A file's first 4 bars as a groove with the file's own notes of those bars behind it (so that it is written
    back as played); a file shorter than 4 bars, repeated to fill them (the model's view)."""
    from explorer.groove import WINDOW_BARS
    from explorer.midi_reader import midi_to_grooves
    from explorer.notes import NoteRecord

    record = NoteRecord.from_midi(path.read_bytes(), path.name)
    if record.bars >= WINDOW_BARS:
        return record.excerpt(0, WINDOW_BARS).groove()
    return midi_to_grooves(path)[0]


def cmd_interpolate(args) -> int:
    from explorer import checkpoints, generate

    a, b = (_first_window(path) for path in (args.a, args.b))
    grooves = generate.interpolate(checkpoints.load_model(args.checkpoint), a, b, args.steps, args.method,
                                   args.temperature, args.seed)
    for path in _write_grooves(grooves, args.out):
        print(path)
    return 0


def _file_pairs(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input, output) MIDI paths of a file → file or folder → folder command; none, with the reason printed, for
    a folder without MIDI files or a path that does not exist."""
    if source.is_dir():
        pairs = [(path, out / path.name) for path in sorted(source.iterdir())
                 if path.suffix.lower() in (".mid", ".midi")]
        if not pairs:
            print(f"error: '{source}' holds no .mid file.", file=sys.stderr)
        return pairs
    if source.is_file():
        return [(source, out)]
    print(f"error: '{source}' does not exist.", file=sys.stderr)
    return []


def _prepared(args, options_of):
    """(file pairs, options_of(), the checkpoint's model) of a file → file command, or None with the reason
    printed (no input, a bad option, a checkpoint that cannot be loaded)."""
    from explorer import checkpoints

    pairs = _file_pairs(args.input, args.out)
    if not pairs:
        return None
    try:
        return pairs, options_of(), checkpoints.load_model(args.checkpoint)
    except (ValueError, ExplorerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def cmd_drumify(args) -> int:
    from explorer.drumify import DrumifyOptions, drumify, taps_from_midi

    prepared = _prepared(args, lambda: DrumifyOptions(temperature=args.temperature, seed=args.seed,
                                                      strict=not args.free, keep_velocity=not args.ignore_velocity))
    if prepared is None:
        return 2
    pairs, options, model = prepared

    def make(taps):
        groove = drumify(model, taps, options=options)[0]
        return groove, (f"{int(groove.hits.sum())} hits on {int(taps.hits.sum())} taps, {groove.bars:g} bars at "
                        f"{groove.bpm:g} bpm")

    return _write_each(pairs, taps_from_midi, make)


def cmd_humanize(args) -> int:
    from explorer import checkpoints, humanize
    from explorer.midi_reader import midi_to_performance
    from explorer.notes import NoteRecord

    pairs = _file_pairs(args.input, args.out)
    if not pairs:
        return 2
    try:
        options = humanize.HumanizeOptions(temperature=args.temperature, seed=args.seed, amount=args.amount,
                                           keep_velocities=args.keep_velocities, keep_timing=args.keep_timing,
                                           untouched=tuple(args.untouched), feel_weight=args.feel_weight)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = checkpoints.load_model(args.checkpoint)
    feel = midi_to_performance(args.feel).groove if args.feel else None
    direction = humanize.direction_for(model)
    if direction is None:
        print("note: the Groove MIDI Dataset is not here, so the beats' own feel is not moved towards real "
              "playing (see docs/HUMANIZE.md).", file=sys.stderr)
    failed = 0
    for source, target in pairs:
        try:
            record = NoteRecord.from_midi(source.read_bytes(), source.name)
            played, notes = humanize.humanize_record(model, record, feel, options, direction)
        except (ExplorerError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(notes.to_midi())
        print(f"{target}: {len(notes.notes)} notes, {played.bars:g} bars at {played.bpm:g} bpm")
    return 2 if failed else 0


def _file_groove(data: bytes, name: str):
    """A file as a groove with its notes behind it (the musician's record), for the commands that keep them."""
    from explorer.notes import NoteRecord

    return NoteRecord.from_midi(data, name).groove()


def _write_each(pairs, read, make) -> int:
    """For each (input, output) pair: read(bytes, name) → make(…) → (groove, summary), the groove written as MIDI;
    a file that cannot be read or made is reported and skipped. Exit status 2 if any was."""
    from explorer.groove import groove_to_midi

    failed = 0
    for source, target in pairs:
        try:
            groove, summary = make(read(source.read_bytes(), source.name))
        except (ExplorerError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(groove_to_midi(groove))
        print(f"{target}: {summary}")
    return 2 if failed else 0


def cmd_continue(args) -> int:
    from explorer.continuation import ContinueOptions, continue_groove, fill_bars, gmd_fills

    prepared = _prepared(args, lambda: ContinueOptions(temperature=args.temperature, seed=args.seed,
                                                       fill_every=args.fill_every, variation=args.variation,
                                                       fill_source=args.fills))
    if prepared is None:
        return 2
    pairs, options, model = prepared
    fills = gmd_fills() if options.fill_every else None
    if options.fill_every and fills is None:
        print("note: the Groove MIDI Dataset is not here, so fill bars are played as any other bar (only the crash "
              "after them marks them).", file=sys.stderr)

    def make(groove):
        song = continue_groove(model, groove, args.bars, options, fills)
        where = [b + 1 for b in fill_bars(int(groove.bars), args.bars, options.fill_every)]
        return song, (f"{int(groove.bars)} bars as played, continued to {args.bars} at {song.bpm:g} bpm"
                      + (f"; fills in bars {', '.join(map(str, where))}" if where else ""))

    return _write_each(pairs, _file_groove, make)


def cmd_infill(args) -> int:
    from explorer.infill import InfillOptions, infill

    prepared = _prepared(args, lambda: InfillOptions(temperature=args.temperature, seed=args.seed))
    if prepared is None:
        return 2
    pairs, options, model = prepared

    def make(groove):
        written = infill(model, groove, args.drums, options)[0]
        return written, f"{', '.join(args.drums)} written new, every other note as it was"

    return _write_each(pairs, _file_groove, make)


def cmd_export(args) -> int:
    from explorer import dataset
    from explorer.train import export_run

    info = export_run(args.run_dir, args.out, dataset.load_windows("test").tensors, args.weights)
    print(f"{info.directory}: test hit F1 {info.metrics['hit_f1']:.3f}, sha256 {info.sha256[:12]}…")
    return 0


def cmd_calibrate(args) -> int:
    from tqdm import tqdm

    from explorer import dataset
    from explorer.calibrate import calibrate_checkpoint

    train_tensors = dataset.load_windows("train").tensors[: args.limit]
    try:
        with tqdm(total=len(train_tensors), unit="window", desc="teacher-forced heads") as bar:
            info = calibrate_checkpoint(args.checkpoint, train_tensors, dataset.load_windows("test").tensors,
                                        args.out, args.components, args.draws, args.seed,
                                        progress=lambda done, _: bar.update(done - bar.n),
                                        announce=lambda text: tqdm.write(f"{text}…", file=sys.stderr))
    except ValueError as error:  # e.g. more components than the windows can fit
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{info.directory}: heads calibrated on {len(train_tensors):,} training windows, a {args.components}-"
          f"component prior on {args.draws} codes per window; test hit F1 {info.metrics['hit_f1']:.3f}, velocity MAE "
          f"{info.metrics['velocity_mae']:.3f}, offset MAE {info.metrics['offset_mae']:.3f}")
    return 0


def cmd_import_magenta(args) -> int:
    from explorer import checkpoints
    from explorer.magenta_import import import_magenta_with_step

    out = args.out or checkpoints.CHECKPOINTS_DIR / f"magenta_{args.config}"
    if (out / checkpoints.MANIFEST_FILE).exists() and not args.force:
        print(f"error: '{out}' already holds a checkpoint; choose another --out or pass --force.", file=sys.stderr)
        return 2
    model, step = import_magenta_with_step(args.path, args.config)
    source = f"Magenta {args.path.name} ({args.config}" + (f", step {step:,})" if step is not None else ")")
    try:
        info = checkpoints.save_checkpoint(model.weights_dict(), model.config.to_dict(), out, source)
    except OSError as error:
        print(f"error: cannot write '{out}': {error.strerror or error}", file=sys.stderr)
        return 2
    print(f"{info.directory}: {source}, {model.parameter_count():,} weights, sha256 {info.sha256[:12]}…")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="summary of the Groove MIDI Dataset")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=cmd_info)
    listing = commands.add_parser("checkpoints", help="the checkpoint registry: each one's preset and heads")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_checkpoints)
    train = commands.add_parser("train", help="train a MusicVAE on the GMD train split")
    train.add_argument("--config", help="model preset (see explorer/model.py); default groovae_4bar, or with "
                                        "--midi-dir the starting checkpoint's")
    train.add_argument("--midi-dir", type=Path, metavar="DIR",
                       help="train on every MIDI file under DIR (recursively) instead of GMD; fine-tunes the shipped "
                            "checkpoint unless --init-from says otherwise")
    held_out = train.add_mutually_exclusive_group()
    held_out.add_argument("--validation-dir", type=Path, metavar="DIR2", help="with --midi-dir: validate on these")
    held_out.add_argument("--validation-fraction", type=float, default=0.2, metavar="F",
                          help="with --midi-dir: validate on this share of its files (default 0.2)")
    train.add_argument("--drum-map", default="roland", metavar="FILE",
                       help="pitch → drum class: roland (GMD's, the default), gm, or a JSON file "
                            "{\"36\": \"kick\", …}")
    train.add_argument("--out", type=Path, required=True, help="run directory")
    train.add_argument("--steps", type=int, help="stop at this global step")
    train.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop after this much time")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--batch-size", type=int, help="default: the preset's")
    train.add_argument("--dropout-keep", type=float, help="LSTM input keep-probability; default: the preset's")
    train.add_argument("--learning-rate", type=float, help="initial learning rate; default: the preset's")
    train.add_argument("--free-bits", type=float, help="KL allowed for free, in bits; default: the preset's")
    train.add_argument("--beta", type=float, help="weight of the KL above the free bits; default: the preset's")
    train.add_argument("--hit-weight", type=float,
                       help="the hits' weight in the reconstruction loss, against the velocity and offset heads'; "
                            "default: the preset's (1)")
    train.add_argument("--windows-per-performance", type=int, metavar="N",
                       help="each epoch draws at most N windows of each performance (file), and validation holds at "
                            "most N of each, so that long performances do not dominate; default: every window")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                       help="save the resumable state every this many steps; default: 200")
    train.add_argument("--init-from", metavar="CHECKPOINT",
                       help="start from a registry checkpoint's weights (e.g. gmd_hierdec_4bar) with a fresh optimizer")
    train.add_argument("--augment", nargs="*", choices=AUGMENTATIONS, metavar="NAME",
                       help="augment training windows, each named way in a quarter of them: "
                            f"{', '.join(AUGMENTATIONS)} (explorer/augment.py); alone: "
                            f"{' '.join(DEFAULT_AUGMENTATIONS)}")
    train.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="training matmuls: bfloat16 where the CPU has bf16 instructions and measures faster "
                            "(auto), or forced")
    train.add_argument("--strategy", choices=["default", "mirrored", "multiworker"], default="default",
                       help="tf.distribute strategy: mirrored = all local devices, multiworker = hosts in TF_CONFIG "
                            "(docs/SCALING.md)")
    train.add_argument("--collective-timeout", type=float, metavar="S",
                       help="multiworker: a step that waits this long for another worker stops the run (default 120)")
    train.set_defaults(run=cmd_train)

    render = commands.add_parser("render", help="render a MIDI drum groove to a WAV file")
    render.add_argument("midi", type=Path, help="MIDI file (drums on channel 10)")
    render.add_argument("--out", type=Path, required=True, help="WAV file to write")
    render.add_argument("--bpm", type=float, help="tempo; default: the file's own")
    render.add_argument("--loops", type=int, default=1, help="times to play the groove back to back")
    render.add_argument("--renderer", choices=["auto", "fluidsynth", "builtin"], default="auto",
                        help="auto = FluidSynth when installed, else the built-in synth")
    render.add_argument("--kit", choices=list(KITS), default=DEFAULT_KIT,
                        help=f"FluidSynth's drum kit: {', '.join(f'{k} ({label})' for k, (label, _) in KITS.items())}")
    render.set_defaults(run=cmd_render)
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

    humanize = commands.add_parser("humanize", help="play programmed beats with a drummer's dynamics and timing")
    humanize.add_argument("input", type=Path, metavar="IN", help="a MIDI file, or a folder of them")
    humanize.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    humanize.add_argument("--feel", type=Path, metavar="SEED.mid", help="play with this groove's feel")
    humanize.add_argument("--feel-weight", type=float, default=1.0,
                          help="with --feel: 0 = the beat's own feel … 1 = the feel groove's (default)")
    humanize.add_argument("--temperature", type=float, default=0.5, help="how loosely to play (0: each hit's median)")
    humanize.add_argument("--seed", type=int, default=0)
    humanize.add_argument("--amount", type=float, default=1.0, help="0 = unchanged … 1 = fully humanized")
    humanize.add_argument("--keep-velocities", action="store_true", help="timing only")
    humanize.add_argument("--keep-timing", action="store_true", help="dynamics only")
    humanize.add_argument("--untouched", nargs="*", default=[], metavar="DRUM", choices=DRUM_CLASSES,
                          help=f"drums left as programmed ({', '.join(DRUM_CLASSES)})")
    humanize.set_defaults(run=cmd_humanize)

    drumify = commands.add_parser("drumify", help="turn tapped rhythms (any pitch, any channel) into drum grooves")
    drumify.add_argument("input", type=Path, metavar="IN", help="a MIDI file of taps, or a folder of them")
    drumify.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    drumify.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE,
                         help="how freely to play (default 0: the most likely groove)")
    drumify.add_argument("--seed", type=int, default=0)
    drumify.add_argument("--free", action="store_true",
                         help="let the model add ghost notes and cymbals between the taps (default: strictly on them)")
    drumify.add_argument("--ignore-velocity", action="store_true", help="every tap counts the same")
    drumify.add_argument("--checkpoint", default=DRUMIFY_CHECKPOINT,
                         help=f"a multi-task checkpoint (default: {DRUMIFY_CHECKPOINT})")
    drumify.set_defaults(run=cmd_drumify)

    song = commands.add_parser("continue", help="continue a groove to 8-64 bars, with fills")
    song.add_argument("input", type=Path, metavar="IN", help="a MIDI file, or a folder of them")
    song.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    song.add_argument("--bars", type=int, required=True, help="the song's length in bars (IN's own come first)")
    song.add_argument("--fill-every", type=int, default=4, choices=FILL_EVERY_CHOICES,
                      help="a fill in the last bar of every K bars (0: none; default 4)")
    song.add_argument("--fills", choices=FILL_SOURCES, default=FILL_SOURCES[0],
                      help="where fills come from: the model (default) or GMD's drummers' own")
    song.add_argument("--variation", type=float, default=0.5, help="0 = loop IN … 1 = keep developing")
    song.add_argument("--temperature", type=float, default=ContinueOptions.temperature)
    song.add_argument("--seed", type=int, default=0)

    infill = commands.add_parser("infill", help="write one or more drums of a beat new, every other note kept")
    infill.add_argument("input", type=Path, metavar="IN", help="a MIDI file, or a folder of them")
    infill.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    infill.add_argument("--drums", nargs="+", required=True, metavar="DRUM", choices=DRUM_CLASSES,
                        help=f"the drums to write ({', '.join(DRUM_CLASSES)})")
    infill.add_argument("--temperature", type=float, default=0.0)
    infill.add_argument("--seed", type=int, default=0)

    for command in (song, infill):
        command.add_argument("--checkpoint", default=DRUMIFY_CHECKPOINT,
                             help=f"a multi-task checkpoint (default: {DRUMIFY_CHECKPOINT})")
    song.set_defaults(run=cmd_continue)
    infill.set_defaults(run=cmd_infill)

    for command in (evaluate, sample, reconstruct, interpolate, humanize):
        command.add_argument("--checkpoint", help="registry name or folder (default: the shipped one)")

    export = commands.add_parser("export", help="a training run's best weights → a checkpoint, scored on test")
    export.add_argument("run_dir", type=Path, help="the training run folder")
    export.add_argument("--out", type=Path, required=True, help="e.g. checkpoints/NAME")
    export.add_argument("--weights", choices=["best", "latest"], default="best",
                        help="the best validation hit F1 (default) or the latest weights")
    export.set_defaults(run=cmd_export)

    calibrate = commands.add_parser(
        "calibrate", help="fit a trained checkpoint's head biases and sampling prior to its training windows",
        description="Run after export, for checkpoints with per-hit distributions (explorer/calibrate.py): each "
                    "drum's velocity and offset bin biases are refitted so that the heads' predictions match the "
                    "training hits, and a Gaussian mixture is fitted to the training windows' codes as the prior "
                    "that Sample and variations draw from. Writes the checkpoint in place unless --out is given.")
    calibrate.add_argument("--checkpoint", help="registry name or folder (default: the shipped one)")
    calibrate.add_argument("--out", type=Path, help="write the calibrated checkpoint here instead")
    calibrate.add_argument("--components", type=int, default=256, help="Gaussians in the fitted prior")
    calibrate.add_argument("--draws", type=int, default=3, help="codes mu + sigma·ε per window the prior is fitted to")
    calibrate.add_argument("--limit", type=int, help="only the first N training windows")
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.set_defaults(run=cmd_calibrate)

    magenta = commands.add_parser(
        "import-magenta", help="import a Magenta GrooVAE checkpoint (.tar bundle, directory or prefix)",
        description="Reads a TF1 checkpoint written by Magenta's MusicVAE (no magenta needed) and writes it as a "
                    "checkpoint of this app. See docs/MAGENTA.md for the published checkpoints.")
    magenta.add_argument("path", type=Path, help="e.g. groovae_4bar.tar, a train directory or model.ckpt-1234")
    magenta.add_argument("--config", default="groovae_4bar",
                         help="the Magenta config it was trained with: groovae_4bar (default), groovae_2bar_humanize, "
                              "groovae_2bar_tap_fixed_velocity or groovae_2bar_add_closed_hh")
    magenta.add_argument("--out", type=Path, help="checkpoint folder; default: checkpoints/magenta_<config>")
    magenta.add_argument("--force", action="store_true", help="overwrite a checkpoint already in --out")
    magenta.set_defaults(run=cmd_import_magenta)
    # <commands: add new sub-commands above this line>
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
