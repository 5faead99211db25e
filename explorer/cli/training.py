"""`train`, `export`, `calibrate` and `import-magenta`: making and importing checkpoints. The training flags are
`TrainOptions`' own fields (explorer/train/options.py)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from tqdm import tqdm

from explorer.cli.common import CHECKPOINT_HELP, cannot_write
from explorer.errors import TrainingError
from explorer.model import checkpoints
from explorer.model.config import PRESETS
from explorer.train.augment import DEFAULT_AUGMENTATIONS
from explorer.train.options import TrainOptions

FROM_SCRATCH = "none"  # --init-from none


def chosen_augmentations(named: list[str] | None) -> tuple[str, ...]:
    """`--augment` absent: none; alone: the default ones; with names: those."""
    if named is None:
        return ()
    return tuple(named) or DEFAULT_AUGMENTATIONS


def training_start(midi_dir: Path | str | None, init_from: str | None, config: str | None) -> tuple[str | None, str]:
    """(the checkpoint a run starts from, or None for scratch; its preset). A folder of one's own MIDI fine-tunes the
    shipped checkpoint, unless another preset (`config`) or start (`init_from`, 'none' for scratch) is asked for."""
    if config is not None and config not in PRESETS:
        raise TrainingError(f"There is no preset '{config}': choose one of {', '.join(PRESETS)}.")
    if init_from == FROM_SCRATCH:
        return None, config or TrainOptions.config
    if midi_dir and init_from is None:
        shipped = checkpoints.read_info(checkpoints.resolve(checkpoints.DEFAULT_CHECKPOINT)).config["name"]
        if config in (None, shipped):
            print(f"Fine-tuning {checkpoints.DEFAULT_CHECKPOINT} ({shipped}) on {midi_dir}; --init-from chooses "
                  f"another start, --init-from {FROM_SCRATCH} trains from scratch.")
            return checkpoints.DEFAULT_CHECKPOINT, shipped
        print(f"Training a {config} from scratch on {midi_dir} (the shipped checkpoint is a {shipped}); "
              "--init-from chooses a checkpoint of that preset to start from.")
        return None, config
    return init_from, config or TrainOptions.config


def cmd_train(args) -> int:
    from explorer.train.trainer import train  # TensorFlow: only for the commands that need it

    init_from, config = training_start(args.midi_dir, args.init_from, args.config)
    given = {option.name: getattr(args, option.name) for option in dataclasses.fields(TrainOptions)
             if "help" in option.metadata and getattr(args, option.name) is not None}
    options = TrainOptions(**{**given, "config": config, "init_from": init_from,
                              "augment": chosen_augmentations(args.augment)})
    print(json.dumps(train(options, args.out, resume=args.resume)))
    return 0


def cmd_export(args) -> int:
    from explorer.datasets import gmd  # pandas: only for the commands that read GMD
    from explorer.train.export import export_run  # TensorFlow: only for the commands that need it

    info = export_run(args.run_dir, args.out, gmd.load_windows("test").tensors, args.weights)
    print(f"{info.directory}: test hit F1 {info.metrics['hit_f1']:.3f}, sha256 {info.sha256[:12]}…")
    return 0


def cmd_calibrate(args) -> int:
    from explorer.datasets import gmd  # pandas: only for the commands that read GMD
    from explorer.train.calibrate import calibrate_checkpoint  # TensorFlow

    train_tensors = gmd.load_windows("train").tensors[: args.limit]
    try:
        with tqdm(total=len(train_tensors), unit="window", desc="teacher-forced heads") as bar:
            info = calibrate_checkpoint(args.checkpoint, train_tensors, gmd.load_windows("test").tensors,
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
    from explorer.model.magenta_import import import_magenta_with_step  # TensorFlow

    out = args.out or checkpoints.CHECKPOINTS_DIR / f"magenta_{args.config}"
    if (out / checkpoints.MANIFEST_FILE).exists() and not args.force:
        print(f"error: '{out}' already holds a checkpoint; choose another --out or pass --force.", file=sys.stderr)
        return 2
    model, step = import_magenta_with_step(args.path, args.config)
    source = f"Magenta {args.path.name} ({args.config}" + (f", step {step:,})" if step is not None else ")")
    try:
        info = checkpoints.save_checkpoint(model.weights_dict(), model.config.to_dict(), out, source)
    except OSError as error:
        return cannot_write(out, error)
    print(f"{info.directory}: {source}, {model.parameter_count():,} weights, sha256 {info.sha256[:12]}…")
    return 0


def add_option_flags(parser) -> None:
    """A flag for each of `TrainOptions`' fields that has a help (explorer/train/options.py `flag`); absent, None,
    so that the field's default holds."""
    groups = {}
    for option in dataclasses.fields(TrainOptions):
        if "help" not in option.metadata:
            continue
        settings = dict(option.metadata)
        name = settings.pop("flag", "--" + option.name.replace("_", "-"))
        group = settings.pop("group", None)
        if group is not None and group not in groups:
            groups[group] = parser.add_mutually_exclusive_group()
        target = parser if group is None else groups[group]
        target.add_argument(name, dest=option.name, default=None, **settings)


def add_commands(commands) -> None:
    train = commands.add_parser("train", help="train a MusicVAE on the GMD train split, or on a folder of MIDI")
    train.add_argument("--out", type=Path, required=True, help="run directory")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_option_flags(train)
    train.set_defaults(run=cmd_train)

    export = commands.add_parser("export", help="a training run's best weights → a checkpoint, scored on test")
    export.add_argument("run_dir", type=Path, help="the training run folder")
    export.add_argument("--out", type=Path, required=True, help="e.g. checkpoints/NAME")
    export.add_argument("--weights", choices=["best", "latest"], default="best",
                        help="the best validation hit F1 (default) or the latest weights")
    export.set_defaults(run=cmd_export)

    calibrate = commands.add_parser(
        "calibrate", help="fit a trained checkpoint's head biases and sampling prior to its training windows",
        description="Run after export, for checkpoints with per-hit distributions (explorer/train/calibrate.py): "
                    "each drum's velocity and offset bin biases are refitted so that the heads' predictions match the "
                    "training hits, and a Gaussian mixture is fitted to the training windows' codes as the prior "
                    "that Sample and variations draw from. Writes the checkpoint in place unless --out is given.")
    calibrate.add_argument("--checkpoint", help=CHECKPOINT_HELP)
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
