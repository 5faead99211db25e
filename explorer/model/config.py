"""The model's presets: one frozen `ModelConfig` per preset, Magenta's `groovae_4bar` exactly as Magenta's, this
project's own beside it, and small test sizes apart at the end."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from explorer.model.conditions import CONDITION_CHANNELS
from explorer.notes.drums import FEATURES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR, WINDOW_BARS


@dataclass(frozen=True)
class ModelConfig:
    name: str
    encoder_units: int = 512
    z_size: int = 256
    decoder_units: int = 256
    decoder_layers: int = 2
    conductor_units: int = 0  # 0: flat decoder; > 0: hierarchical decoder with a conductor of this width
    conductor_layers: int = 2
    dropout_keep: float = 0.3  # keep-probability of every LSTM's input, in training only (Magenta's DropoutWrapper)
    free_bits: float = 48.0
    beta: float = 0.2
    hit_weight: float = 1.0  # the hits' share of the reconstruction loss against the heads' (1: a likelihood)
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999
    min_learning_rate: float = 1e-5
    clip_norm: float = 1.0
    batch_size: int = 512
    bars: int = WINDOW_BARS
    velocity_bins: int = 0  # 0: Magenta's heads (MSE, deterministic); > 0: a distribution per hit over these bins
    offset_bins: int = 0
    previous_bar: bool = False  # layer 0 also reads the output one bar back (hierarchical presets of this project)
    task_channels: int = 0  # > 0: multi-task; the encoder also reads which transformation it sees (transforms.py)

    @property
    def encoder_input_size(self) -> int:
        return FEATURES + self.task_channels

    @property
    def feedback_size(self) -> int:
        """Width of what the decoder's first layer reads back each step: the previous output, and with
        `previous_bar` the output one bar earlier."""
        return FEATURES * (2 if self.previous_bar else 1)

    @property
    def distributional(self) -> bool:
        """Per-hit velocity and offset distributions (else Magenta's deterministic heads)."""
        return self.velocity_bins > 0

    @property
    def output_size(self) -> int:
        if not self.distributional:
            return FEATURES
        return NUM_CLASSES * (1 + self.velocity_bins + self.offset_bins)

    @property
    def hierarchical(self) -> bool:
        return self.conductor_units > 0

    @property
    def steps(self) -> int:
        return self.bars * STEPS_PER_BAR

    @property
    def free_nats(self) -> float:
        return self.free_bits * math.log(2.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


MUSIC_PRESETS = (
    ModelConfig("groovae_4bar"),  # Magenta's config exactly
    ModelConfig("hierdec_4bar", conductor_units=256),
    # hierdec_4bar with per-hit velocity and offset distributions (32 bins: 4 MIDI velocities, 1/32 of a step),
    # trained with the shipped checkpoint's measured settings: batch 128, input keep 0.7.
    ModelConfig("hierdec_dist_4bar", conductor_units=256, velocity_bins=32, offset_bins=32, batch_size=128,
                dropout_keep=0.7, learning_rate=5e-4),
    # hierdec_dist_4bar whose bar decoder also reads the same step one bar back (warm-starts from it exactly).
    ModelConfig("hierdec_dist_prevbar_4bar", conductor_units=256, velocity_bins=32, offset_bins=32,
                batch_size=128, dropout_keep=0.7, learning_rate=5e-4, previous_bar=True),
    # hierdec_dist_4bar trained on every transformation of conditions.py at once (Drumify, Groove, infill, continue);
    # warm-starts from it exactly (the condition's kernel rows start at zero).
    ModelConfig("hierdec_dist_multitask_4bar", conductor_units=256, velocity_bins=32, offset_bins=32,
                batch_size=128, dropout_keep=0.7, learning_rate=5e-4, task_channels=CONDITION_CHANNELS),
    # hierdec_dist_4bar with a bar decoder twice as wide, warm-started from it exactly (model/surgery.py);
    # tried for faithful encoding and stopped: the model overfits, capacity is not the lever (model card).
    ModelConfig("hierdec_dist_wide_4bar", conductor_units=256, decoder_units=512, velocity_bins=32, offset_bins=32,
                batch_size=128, dropout_keep=0.7, learning_rate=5e-4),
    # Magenta's 2-bar GrooVAE variants, for importing their published checkpoints (explorer/model/magenta_import.py):
    # groovae_4bar's layout over 2 bars; they differ only in what their encoder was trained to see.
    ModelConfig("groovae_2bar_humanize", bars=2),
    ModelConfig("groovae_2bar_tap_fixed_velocity", bars=2),
    ModelConfig("groovae_2bar_add_closed_hh", bars=2),
)

# Tiny widths for the test suite: every layout above in miniature, trained in seconds.
TEST_SIZES = (
    ModelConfig("tiny_4bar", encoder_units=32, z_size=16, decoder_units=32, batch_size=32),
    # Just enough capacity to memorise a handful of grooves quickly (the "learning happens" test).
    ModelConfig("small_4bar", encoder_units=64, z_size=32, decoder_units=64, batch_size=32, decay_rate=0.998),
    ModelConfig("tiny_hierdec_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32),
    ModelConfig("tiny_dist_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8),
    ModelConfig("tiny_prevbar_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8, previous_bar=True),
    ModelConfig("tiny_wide_4bar", encoder_units=32, z_size=16, decoder_units=48, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8),
    ModelConfig("tiny_multitask_4bar", encoder_units=32, z_size=16, decoder_units=32, conductor_units=32,
                batch_size=32, velocity_bins=8, offset_bins=8, task_channels=CONDITION_CHANNELS),
)

PRESETS = {config.name: config for config in MUSIC_PRESETS + TEST_SIZES}


def get_config(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown model config '{name}'; known: {', '.join(PRESETS)}")
    return PRESETS[name]
