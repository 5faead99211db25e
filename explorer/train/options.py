"""What a training run is asked to do: `TrainOptions`, whose fields are also the `train` command's flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.model.precision import PRECISIONS
from explorer.train.augment import AUGMENTATIONS, DEFAULT_AUGMENTATIONS


def flag(default, help: str, **argparse_settings):
    """An option the `train` command offers as a flag (--name, or `flag=`), with its help and argparse settings
    (`type`, `metavar`, `choices`, `nargs`; `group`: flags of one group exclude each other). Absent, the default."""
    return field(default=default, metadata={"help": help, **argparse_settings})


PRESET = "default: the preset's"


@dataclass(frozen=True)
class TrainOptions:
    config: str = flag("groovae_4bar", "model preset (explorer/model/config.py); default groovae_4bar, or with "
                                       "--midi-dir the starting checkpoint's")
    steps: int | None = flag(None, "stop at this global step", type=int)
    time_budget_minutes: float | None = flag(None, "stop after this much time", type=float, flag="--time-budget",
                                             metavar="MINUTES")
    batch_size: int | None = flag(None, PRESET, type=int)
    dropout_keep: float | None = flag(None, f"LSTM input keep-probability; {PRESET}", type=float)
    learning_rate: float | None = flag(None, f"initial learning rate; {PRESET}", type=float)
    free_bits: float | None = flag(None, f"KL allowed for free, in bits; {PRESET}", type=float)
    beta: float | None = flag(None, f"weight of the KL above the free bits; {PRESET}", type=float)
    hit_weight: float | None = flag(None, "the hits' weight in the reconstruction loss, against the velocity and "
                                          f"offset heads'; {PRESET} (1)", type=float)
    seed: int = flag(0, "random seed", type=int)
    log_every: int = 20
    checkpoint_every: int = flag(200, "save the resumable state every this many steps; default: 200", type=int,
                                 metavar="STEPS")
    validation_windows: int = 2048  # a fixed subset keeps validation quick on a CPU
    validate_every_epochs: int = 1
    # A long performance gives most of the windows, so sampled by window the model learns the long ones by heart and
    # generalises worse (model card). None: every window, every epoch.
    windows_per_performance: int | None = flag(
        None, "each epoch draws at most N windows of each performance (file), and validation holds at most N of "
              "each, so that long performances do not dominate; default: every window", type=int, metavar="N")
    strategy: str = flag("default", "tf.distribute strategy: mirrored = all local devices, multiworker = hosts in "
                                    "TF_CONFIG (docs/SCALING.md)", choices=["default", "mirrored", "multiworker"])
    init_from: str | None = flag(None, "start from a registry checkpoint's weights (e.g. gmd_hierdec_4bar) with a "
                                       "fresh optimizer; 'none': from scratch", metavar="CHECKPOINT")
    augment: tuple[str, ...] = flag((), "augment training windows, each named way in a quarter of them: "
                                        f"{', '.join(AUGMENTATIONS)} (explorer/train/augment.py); alone: "
                                        f"{' '.join(DEFAULT_AUGMENTATIONS)}", nargs="*", choices=AUGMENTATIONS,
                                    metavar="NAME")
    precision: str = flag("auto", "training matmuls: bfloat16 where the CPU has bf16 instructions and measures "
                                  "faster (auto), or forced", choices=PRECISIONS)
    collective_timeout: float = flag(120.0, "multiworker: a step that waits this long for another worker stops the "
                                            "run (default 120)", type=float, metavar="S")
    midi_dir: str | None = flag(None, "train on every MIDI file under DIR (recursively) instead of GMD; fine-tunes "
                                      "the shipped checkpoint unless --init-from or --config says otherwise",
                                metavar="DIR")
    validation_dir: str | None = flag(None, "with --midi-dir: validate on these", metavar="DIR2", group="held_out")
    validation_fraction: float = flag(0.2, "with --midi-dir: validate on this share of its files (default 0.2)",
                                      type=float, metavar="F", group="held_out")
    drum_map: str = flag("roland", "pitch → drum class: roland (GMD's, the default), gm, or a JSON file "
                                   "{\"36\": \"kick\", …}", metavar="FILE")


# Training options a resumed run must share with its start, beside the model config: they decide what it sees.
RESUMED_AS_STARTED = ("seed", "augment", "validation_windows", "midi_dir", "validation_dir", "validation_fraction",
                      "drum_map", "windows_per_performance")
