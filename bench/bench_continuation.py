"""How a continued groove compares with how the drummer really went on, and how an infilled drum compares with the
one the drummer played.

    python -m bench.bench_continuation [--checkpoint NAME] [--write]

Continue: every GMD test beat performance of at least 16 bars, its first 4 bars as the seed, continued to 16 bars,
against the same performance's real bars 5–16 (the realism classifier on the 4-bar windows, bar-to-bar repetition,
hits per bar, drift from the seed, and fills read by a beat/fill classifier). Baseline: the seed looped.
Infill: one window of each test performance with its closed hi-hat removed and written anew, against the real hats.
Baseline: the hats of the GMD training window whose kick and snare are most alike. Writes docs/CONTINUATION.md.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.report import machine, publish
from explorer.analysis.evaluate import reconstruction_metrics
from explorer.analysis.realism import bar_features, bar_repetition, classifier_accuracy, fill_classifier
from explorer.datasets import gmd
from explorer.model import checkpoints
from explorer.model.checkpoints import DRUMIFY_CHECKPOINT
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR, WINDOW_BARS, WINDOW_STEPS
from explorer.notes.groove import Groove
from explorer.notes.similarity import jaccard
from explorer.tools.continuation import ContinueOptions, FillBank, continue_groove, fill_examples
from explorer.tools.infill import InfillOptions, infill

DOC = Path(__file__).resolve().parent.parent / "docs" / "CONTINUATION.md"
SONG_BARS = 16
SEED_BARS = 4
FILL_EVERY = 4
STRENGTHS = (0.0, 2.5, 5.0, 10.0)  # continuation.FILL_STRENGTH is chosen from these (0: no fill at all)
HAT = DRUM_CLASSES.index("closed hi-hat")
KICK_SNARE = [DRUM_CLASSES.index("kick"), DRUM_CLASSES.index("snare")]
BEAT_BARS_PER_FILL = 2  # the fill classifier's beat bars: the paired ones and this many times as many other bars


def long_performances(info) -> tuple[list[str], np.ndarray]:
    """The test beat performances of at least SONG_BARS bars, and their first SONG_BARS bars [N, 256, 27]."""
    names, songs = [], []
    for name in info[(info["split"] == "test") & (info["beat_type"] == "beat")]["midi_filename"]:
        tensor = gmd.load_performance(name).tensor()
        if len(tensor) >= SONG_BARS * STEPS_PER_BAR:
            names.append(name)
            songs.append(tensor[:SONG_BARS * STEPS_PER_BAR])
    return names, np.stack(songs)


def bars_of(songs: np.ndarray) -> np.ndarray:
    return songs.reshape(len(songs), -1, STEPS_PER_BAR, songs.shape[-1])


def song_statistics(songs: np.ndarray, real_songs: np.ndarray, names) -> dict:
    """Of bars 5–16 of each song: the realism classifier of its 4-bar windows against the real ones, repetition,
    hits per bar, and drift from the seed (hit Jaccard of each window with bars 1–4)."""
    windows = songs[:, SEED_BARS * STEPS_PER_BAR:].reshape(-1, WINDOW_STEPS, songs.shape[-1])
    real_windows = real_songs[:, SEED_BARS * STEPS_PER_BAR:].reshape(-1, WINDOW_STEPS, songs.shape[-1])
    per_song = len(windows) // len(names)
    groups = np.repeat(names, per_song)
    half = len(real_windows) // 2
    hits = windows[..., :NUM_CLASSES] > 0.5
    seeds = np.repeat(songs[:, :WINDOW_STEPS, :NUM_CLASSES] > 0.5, per_song, axis=0)
    drift = [jaccard(w.reshape(1, -1), s.reshape(1, -1))[0, 0] for w, s in zip(hits, seeds, strict=True)]
    return {"classifier": classifier_accuracy(real_windows[:half], groups[:half], windows[half:]),
            "repetition": float(bar_repetition(hits).mean()),
            "hits_per_bar": float(hits.sum() / (len(windows) * WINDOW_STEPS / STEPS_PER_BAR)),
            "drift": float(np.mean(drift))}


def fill_statistics(songs: np.ndarray, classifier, real_fill_windows: np.ndarray, real_groups) -> dict:
    """The beat/fill classifier's fill chance on the fill bars (4, 8, …) and on the others after the seed, and the
    realism classifier of the 4-bar windows ending in a fill against GMD's beats ending in their fills."""
    bars = songs.reshape(-1, STEPS_PER_BAR, songs.shape[-1])
    chances = classifier.predict_proba(bar_features(bars))[:, 1].reshape(len(songs), -1)
    fills = [b for b in range(SEED_BARS, SONG_BARS) if (b + 1) % FILL_EVERY == 0]
    others = [b for b in range(SEED_BARS, SONG_BARS) if b not in fills]
    ending = np.stack([songs[:, (b + 1 - WINDOW_BARS) * STEPS_PER_BAR:(b + 1) * STEPS_PER_BAR] for b in fills], 1)
    ending = ending.reshape(-1, WINDOW_STEPS, songs.shape[-1])
    # as many as the real ones (a fixed draw): with unequal classes, chance would not be 0.5
    ending = ending[np.random.default_rng(0).choice(len(ending), len(real_fill_windows), replace=False)]
    return {"fill_bars": float(chances[:, fills].mean()), "other_bars": float(chances[:, others].mean()),
            "classifier": classifier_accuracy(real_fill_windows, real_groups, ending)}


def run_continue(model, info) -> list[str]:
    beat_train, fill_train = fill_examples(info, gmd.load_performance, "train")
    beat_test, fill_test = fill_examples(info, gmd.load_performance, "test")
    bank = FillBank(beat_train, fill_train)
    rng = np.random.default_rng(0)
    train_windows = gmd.load_windows("train").tensors
    others = train_windows[rng.choice(len(train_windows), BEAT_BARS_PER_FILL * len(fill_train) // 4, replace=False)]
    beat_bars = np.concatenate([beat_train[:, -STEPS_PER_BAR:], others.reshape(-1, STEPS_PER_BAR, others.shape[-1])])
    classifier = fill_classifier(beat_bars, fill_train[:, -STEPS_PER_BAR:])
    fill_recall = float((classifier.predict(bar_features(fill_test[:, -STEPS_PER_BAR:])) == 1).mean())
    beat_recall = float((classifier.predict(bar_features(beat_test[:, -STEPS_PER_BAR:])) == 0).mean())

    names, real = long_performances(info)
    seeds = [Groove.from_tensor(song[:WINDOW_STEPS], 120.0, name) for song, name in zip(real, names, strict=True)]
    looped = np.stack([np.tile(s.tensor(), (SONG_BARS // SEED_BARS, 1)) for s in seeds])
    default = ContinueOptions()

    def songs(options: ContinueOptions) -> np.ndarray:
        return np.stack([continue_groove(model, s, SONG_BARS, options, bank).tensor() for s in seeds])

    plain = {"real playing": real, "the seed looped": looped,
             "continued": songs(replace(default, fill_every=0)),
             "continued, variation 0 (the seed looped)": songs(replace(default, fill_every=0, variation=0.0)),
             "continued, variation 1 (from the bars before alone)": songs(replace(default, fill_every=0,
                                                                                 variation=1.0))}
    lines = [f"`python -m bench.bench_continuation` with `{model.info.name}` on {machine()}.", "",
             f"**Continuation.** The {len(names)} GMD test beat performances of at least {SONG_BARS} bars, each one's "
             f"first {SEED_BARS} bars continued to {SONG_BARS} at the defaults (T = {default.temperature:g}, "
             f"variation {default.variation:g}) but where a row says otherwise, against the same performance's real "
             f"bars {SEED_BARS + 1}–{SONG_BARS}. Classifier: real-vs-continued accuracy on the 4-bar windows "
             "(0.5 = indistinguishable); repetition: bar-to-bar hit Jaccard; drift: hit Jaccard of each 4-bar "
             "window with the seed (1 = the seed again). Without fills here; fills below.", "",
             "| | classifier | repetition | hits per bar | drift (Jaccard to seed) |", "|---|---:|---:|---:|---:|"]
    for name, played in plain.items():
        s = song_statistics(played, real, names)
        cell = "—" if played is real else f"{s['classifier']:.2f}"
        lines.append(f"| {name} | {cell} | {s['repetition']:.2f} | {s['hits_per_bar']:.1f} | {s['drift']:.2f} |")

    real_fill_groups = np.arange(len(fill_test))
    pasted = looped.copy()  # baseline: a GMD training fill pasted over every 4th bar
    for index in range(len(pasted)):
        for bar in range(FILL_EVERY - 1, SONG_BARS, FILL_EVERY):
            if bar >= SEED_BARS:
                fill = fill_train[rng.integers(len(fill_train)), -STEPS_PER_BAR:]
                pasted[index, bar * STEPS_PER_BAR:(bar + 1) * STEPS_PER_BAR] = fill
    filled = {"the seed looped, a random GMD training fill pasted in": pasted,
              "continued, the drummers' fills": songs(replace(default, fill_source="drummers"))}
    for strength in STRENGTHS:
        default_mark = " (the default)" if strength == default.fill_strength else ""
        filled[f"continued, the model's fills, strength {strength:g}{default_mark}"] = songs(
            replace(default, fill_source="model", fill_strength=strength))
    lines += ["", f"**Fills** (a fill every {FILL_EVERY} bars). Fill chance: the beat/fill classifier's probability "
              f"that a bar is a fill, on the fill bars and on the other bars after the seed; classifier: the "
              f"realism classifier on the 4-bar windows ending in a fill, against GMD's {len(fill_test)} test fills "
              "each in place of the last bar of 4 bars of the beat recorded before it. The drummers' fills: the GMD "
              "training fill whose beat before it is most like the song's 3 bars before it (hit Jaccard), as "
              "played. The model's fills: drawn with the code moved along the fill direction (GMD's training "
              f"fills against their beats) by the strength (default {default.fill_strength:g}).", "",
              "| | fill chance, fill bars | fill chance, other bars | classifier |", "|---|---:|---:|---:|"]
    def chance(bars: np.ndarray) -> float:
        return float(classifier.predict_proba(bar_features(bars.reshape(-1, STEPS_PER_BAR, bars.shape[-1])))[:, 1]
                     .mean())

    lines.append(f"| GMD's fills and the bars before them | {chance(fill_test[:, -STEPS_PER_BAR:]):.2f} | "
                 f"{chance(beat_test[:, :-STEPS_PER_BAR]):.2f} | — |")
    for name, played in filled.items():
        s = fill_statistics(played, classifier, fill_test, real_fill_groups)
        lines.append(f"| {name} | {s['fill_bars']:.2f} | {s['other_bars']:.2f} | {s['classifier']:.2f} |")
    lines += ["", "The beat/fill classifier (explorer/analysis/realism.py `fill_classifier`: a logistic regression "
              "on a bar's cells and per-drum counts and velocities) was fitted on GMD's "
              f"{len(fill_train)} training fills (each in place of the last bar of the beat recorded before it) "
              "against those beats' bars and "
              f"{len(others) * 4} bars of other training windows. Held out, it calls {fill_recall:.2f} of the test "
              f"fills fills and {beat_recall:.2f} of the bars they replaced beats."]
    return lines


def nearest_hats(train: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Each window with the hats of the training window whose kick and snare are most alike (hit Jaccard)."""
    pattern = [(t[..., KICK_SNARE] > 0.5).reshape(len(t), -1) for t in (windows, train)]
    nearest = train[np.argmax(jaccard(*pattern), axis=1)]
    result = windows.copy()
    columns = [HAT, NUM_CLASSES + HAT, 2 * NUM_CLASSES + HAT]
    result[..., columns] = nearest[..., columns]
    return result


def run_infill(model) -> list[str]:
    test = gmd.load_windows("test")
    rows = test.one_per_performance()
    real = test.tensors[rows]
    files = test.meta["midi_filename"].to_numpy()[rows]
    with_hats = real[..., HAT].max(axis=1) > 0.5
    without = real.copy()
    without[..., [HAT, NUM_CLASSES + HAT, 2 * NUM_CLASSES + HAT]] = 0.0
    candidates = {
        "no hats": without,
        "hats of the nearest training window by kick and snare": nearest_hats(gmd.load_windows("train").tensors,
                                                                             without),
    }
    for temperature in (0.0, 0.5):
        candidates[f"infilled, T = {temperature:g}"] = np.stack([
            infill(model, Groove.from_tensor(w, 120.0), ["closed hi-hat"], InfillOptions(temperature))[0].tensor()
            for w in without])
    half = len(real) // 2
    lines = [f"**Infill.** One window of each of the {len(rows)} GMD test performances (a fixed draw), its closed "
             f"hi-hat removed and written anew; hat F1 against the drummer's own hats (on the {with_hats.sum()} "
             "windows that have them), and the real-vs-generated classifier on the whole windows.", "",
             "| | hat precision | hat recall | hat F1 | hat velocity MAE (MIDI) | classifier |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, played in candidates.items():
        hat = reconstruction_metrics(real[with_hats], played[with_hats])
        per = hat["per_class"]["closed hi-hat"]
        matched = (real[with_hats][..., HAT] > 0.5) & (played[with_hats][..., HAT] > 0.5)
        errors = np.abs(real[with_hats][..., NUM_CLASSES + HAT] - played[with_hats][..., NUM_CLASSES + HAT])[matched]
        velocity = f"{errors.mean() * 127:.1f}" if errors.size else "—"
        realism = classifier_accuracy(real[:half], files[:half], played[half:])
        lines.append(f"| {name} | {per['precision']:.3f} | {per['recall']:.3f} | {per['f1']:.3f} | {velocity} | "
                     f"{realism:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=DRUMIFY_CHECKPOINT)
    parser.add_argument("--write", action="store_true", help="write docs/CONTINUATION.md's measured part")
    args = parser.parse_args(argv)
    model = checkpoints.load_model(args.checkpoint)
    continue_lines = run_continue(model, gmd.load_info())
    publish("Measured", [*continue_lines, "", *run_infill(model)], args.write, DOC)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
