"""How well Humanize plays GMD's own beats back: quantize real test windows (each drum at its own level), humanize
them, compare with the real performance; whether each drum keeps the level it was programmed at; and whether another
drummer's feel moves a beat towards that drummer's playing.

    python -m bench.bench_humanize [--checkpoint NAME] [--write]

Writes docs/HUMANIZE.md (the table) and docs/humanize.png (velocity and timing distributions).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.programmed_beats import programmed_beats
from bench.report import machine, publish
from explorer.analysis.realism import (
    LEVEL_KEPT,
    OFFSET_TO_STEPS,
    beat_accent,
    classifier_accuracy,
    groove_statistics,
    hit_values,
    levels_kept,
)
from explorer.datasets import gmd
from explorer.model import checkpoints
from explorer.notes.drums import DRUM_CLASSES
from explorer.tools.humanize import HumanizeOptions, direction_for, humanize, jitter, quantize, quantize_at_levels

DOC = Path(__file__).resolve().parent.parent / "docs" / "HUMANIZE.md"
PLOT = DOC.with_name("humanize.png")
TEMPERATURES = (0.0, 0.5, 1.0)


def per_hit(grooves) -> tuple[np.ndarray, np.ndarray]:
    """Velocities (MIDI) and offsets (16ths) of every hit; every candidate plays the real hits, in one order."""
    hits, velocities, offsets = hit_values(np.stack([g.tensor() for g in grooves]))
    return velocities[hits], offsets[hits]


def run(checkpoint: str | None) -> tuple[list[str], dict]:
    model = checkpoints.load_model(checkpoint)
    test = gmd.load_windows("test")
    rows = test.one_per_performance()
    count = len(rows)
    real = test.grooves(rows)
    files = test.meta["midi_filename"].to_numpy()[rows]
    real_velocity, real_offset = per_hit(real)
    programmed = [quantize_at_levels(g) for g in real]
    direction = direction_for(model)
    candidates = {
        "programmed input (on the grid, each drum at its level)": programmed,
        "naive: Gaussian jitter at GMD's spread": [jitter(g, real_velocity.mean() / 127, real_velocity.std() / 127,
                                                          real_offset.mean() / OFFSET_TO_STEPS,
                                                          real_offset.std() / OFFSET_TO_STEPS, seed=i)
                                                   for i, g in enumerate(programmed)],
    }
    for temperature in TEMPERATURES:
        candidates[f"humanize, T = {temperature:g}"] = [
            humanize(model, g, options=HumanizeOptions(temperature=temperature, seed=i), direction=direction)
            for i, g in enumerate(programmed)]
    candidates["humanize, the drummer's levels, T = 0.5"] = [
        humanize(model, g, options=HumanizeOptions(seed=i, drummer_levels=True), direction=direction)
        for i, g in enumerate(programmed)]
    half = count // 2
    lines = [f"`python -m bench.bench_humanize` with `{model.info.name}` on {machine()}. "
             f"{count} GMD test windows, one of each test performance (a fixed draw), each programmed as a producer "
             "would (every hit on the grid, each drum at one velocity: its mean in the window) and played back at the "
             "defaults but the temperature; errors per real hit against the real performance. The "
             "accent is the mean velocity of hits on the beat (quarter notes) minus that of hits off it. The "
             "classifier tells the played windows of the second half of the performances from the real windows of "
             "the first half (explorer/analysis/realism.py; 0.5 = indistinguishable).", "",
             "| | velocity MAE (MIDI) | timing MAE (16ths) | velocity mean / sd | timing mean / sd (16ths) | "
             "accent (MIDI) | real-vs-played accuracy |", "|---|---:|---:|---:|---:|---:|---:|",
             f"| GMD (real) | | | {real_velocity.mean():.1f} / {real_velocity.std():.1f} | "
             f"{real_offset.mean():+.3f} / {real_offset.std():.3f} | "
             f"{beat_accent(np.stack([g.tensor() for g in real])):.1f} | |"]
    distributions = {"GMD (real)": (real_velocity, real_offset)}
    per_drum = {}
    for name, played in candidates.items():
        velocity, offset = per_hit(played)
        accuracy = classifier_accuracy(np.stack([g.tensor() for g in real[:half]]), files[:half],
                                       np.stack([g.tensor() for g in played[half:]]))
        lines.append(f"| {name} | {np.abs(velocity - real_velocity).mean():.1f} | "
                     f"{np.abs(offset - real_offset).mean():.3f} | {velocity.mean():.1f} / {velocity.std():.1f} | "
                     f"{offset.mean():+.3f} / {offset.std():.3f} | "
                     f"{beat_accent(np.stack([g.tensor() for g in played])):.1f} | {accuracy:.2f} |")
        distributions[name] = (velocity, offset)
        per_drum[name] = _per_drum_means(played)
    per_drum["GMD (real)"] = _per_drum_means(real)
    lines += ["", "Mean velocity (MIDI) per drum:", "",
              "| | " + " | ".join(DRUM_CLASSES) + " |", "|---|" + "---:|" * len(DRUM_CLASSES)]
    for name in ("GMD (real)", *candidates):
        lines.append(f"| {name} | " + " | ".join(f"{v:.0f}" for v in per_drum[name]) + " |")
    lines += ["", *level_table(model, real, direction), "", *feel_transfer(model, test, direction)]
    return lines, distributions


def level_table(model, real, direction) -> list[str]:
    """Whether each drum keeps the level it was programmed at, at the defaults and with the drummer's levels."""
    inputs = {"60 programmed beats (bench/programmed_beats.py: accents, ghosts, fills)": programmed_beats(),
              f"{len(real)} GMD test windows, each drum at its level": [quantize_at_levels(g) for g in real],
              f"{len(real)} GMD test windows, every hit at velocity 100": [quantize(g) for g in real]}
    rows = [f"Each drum's level: the share of drum groups (one drum in one beat) whose mean velocity stays within "
            f"×{LEVEL_KEPT[0]}–{LEVEL_KEPT[1]} of the programmed one, and the accent (GMD's own: "
            f"{beat_accent(np.stack([g.tensor() for g in real])):.1f}), T = 0.5:", "",
            "| beats | drum groups | programmed: accent (MIDI) | defaults: level kept | defaults: accent (MIDI) | "
            "the drummer's levels: level kept | the drummer's levels: accent (MIDI) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for name, beats in inputs.items():
        tensors = np.stack([g.tensor() for g in beats])
        cells = [f"{int((tensors[..., :9] > 0.5).any(axis=1).sum())}", f"{beat_accent(tensors):.1f}"]
        for drummer_levels in (False, True):
            played = np.stack([humanize(model, g, options=HumanizeOptions(seed=i, drummer_levels=drummer_levels),
                                        direction=direction).tensor() for i, g in enumerate(beats)])
            kept, groups = levels_kept(tensors, played)
            cells += [f"{kept / groups:.0%}", f"{beat_accent(played):.1f}"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def _per_drum_means(grooves) -> list[float]:
    per_class = groove_statistics(np.stack([g.tensor() for g in grooves]))["per_class"]
    return [per_class[drum]["velocity_mean"] for drum in DRUM_CLASSES]


def feel_transfer(model, test, direction) -> list[str]:
    """One beat, played in the feel of the most laid-back and the most pushed of 40 test performances."""
    performances = test.meta.drop_duplicates("midi_filename").index[:40]
    pushes = test.tensors[performances][..., 18:]
    hits = test.tensors[performances][..., :9] > 0.5
    push = np.array([p[h].mean() for p, h in zip(pushes, hits, strict=True)]) * OFFSET_TO_STEPS
    laid_back, pushed = performances[np.argmin(push)], performances[np.argmax(push)]
    beats = [quantize_at_levels(g) for g in test.grooves(list(range(0, len(test), max(1, len(test) // 60))))]
    rows = ["With another drummer's feel: 60 programmed test windows played in the feel of the most laid-back and of "
            "the most pushed of 40 test performances (their mean timing below), T = 0.5:", "",
            "| feel from | its mean timing (16ths) | played: mean timing (16ths) | played: mean velocity (MIDI) |",
            "|---|---:|---:|---:|"]
    for label, row, value in (("laid-back", laid_back, push.min()), ("pushed", pushed, push.max())):
        feel = test.grooves(int(row))[0]
        played = [humanize(model, b, feel=feel, options=HumanizeOptions(temperature=0.5, seed=i), direction=direction)
                  for i, b in enumerate(beats)]
        velocity, offset = per_hit(played)
        rows.append(f"| {label} ({test.meta['midi_filename'].iloc[int(row)]}) | {value:+.3f} | {offset.mean():+.3f} | "
                    f"{velocity.mean():.1f} |")
    return rows


def plot(distributions: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [name for name in distributions if not name.startswith("programmed") and not name.endswith("T = 1")]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name in shown:
        velocity, offset = distributions[name]
        style = {"linewidth": 2.5, "color": "black"} if name == "GMD (real)" else {"linewidth": 1.3}
        left.hist(velocity, bins=np.arange(0, 131, 4), histtype="step", density=True, label=name, **style)
        right.hist(offset, bins=np.linspace(-0.5, 0.5, 41), histtype="step", density=True, **style)
    left.set_xlabel("velocity (MIDI)")
    right.set_xlabel("timing (16ths, + = ahead of the beat)")
    left.legend(fontsize=7)
    figure.suptitle("Humanizing programmed GMD test windows: each hit's velocity and timing")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--write", action="store_true", help="write docs/HUMANIZE.md's measured part and the plot")
    args = parser.parse_args(argv)
    lines, distributions = run(args.checkpoint)
    publish("Measured", [*lines, "", "![distributions](humanize.png)"], args.write, DOC)
    if args.write:
        plot(distributions, PLOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
