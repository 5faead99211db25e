"""What a run trains and validates on: GMD's train and validation splits, or a folder's files, each window with its
performance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.datasets.folder import folder_windows
from explorer.datasets.gmd import load_windows
from explorer.notes.drum_map import load_drum_map
from explorer.train.options import TrainOptions


@dataclass(frozen=True)
class TrainingData:
    training: np.ndarray  # windows [N, 64, 27]
    training_performances: np.ndarray  # [N] each window's performance (a file name)
    validation: np.ndarray
    validation_performances: np.ndarray
    source: dict | None  # where a folder's windows came from (None: GMD)


def training_data(options: TrainOptions) -> TrainingData:
    """The training and validation windows and their performances: GMD's train and validation splits, or a folder's
    files (`midi_dir`, read with `drum_map`), validated on `validation_dir` or on a share of its files. Prints what a
    folder's files gave, and what was skipped and why."""
    if not options.midi_dir:
        training, validation = load_windows("train"), load_windows("validation")
        return TrainingData(training.tensors, training.meta["midi_filename"].to_numpy(str), validation.tensors,
                            validation.meta["midi_filename"].to_numpy(str), None)
    pitch_map = load_drum_map(options.drum_map)
    folder = folder_windows(Path(options.midi_dir), pitch_map, str(options.drum_map))
    print(folder.skip_table())
    if options.validation_dir:
        held_out = folder_windows(Path(options.validation_dir), pitch_map, str(options.drum_map))
        print(held_out.skip_table())
        return TrainingData(folder.tensors, np.array(folder.files), held_out.tensors, np.array(held_out.files),
                            {**folder.source, "validation": held_out.source})
    held = folder.held_out(options.validation_fraction, options.seed)
    files = np.array(folder.files)
    return TrainingData(folder.tensors[~held], files[~held], folder.tensors[held], files[held],
                        {**folder.source, "validation_fraction": options.validation_fraction})
