"""Continue: a groove goes on past its bars, a bar at a time, into a song with fills.

Each new bar is written by the multi-task model (explorer/model/conditions.py) from the bars before it: its encoder
reads the last three bars under the "keep the first bars" condition (trained to guess the bar that follows), and its
decoder is held to those bars' hits (`given_cells`) while it draws the next. So the groove stays itself: the same
drummer, tempo and feel, bar to bar.

- Variation: each bar's code mixes the code of the bars before it (1, "keep developing") with the seed's own code at
  that point of its loop (0; at exactly 0 the seed's bars are looped as played).
- Phrases: the last bar of every `fill_every` bars is a fill, drawn with the code moved along the fill direction
  (`FillBank.direction`: GMD's fills against the beats they followed) or one of GMD's drummers' own fills that fit
  (`FillBank.nearest`), and the bar after a fill opens with a crash and a kick on its downbeat, the hi-hat giving
  way. The bars the model draws keep the seed's balance of the kit (`_balance_like`).
- The seed's own notes are the song's first bars: a seed carrying the musician's file (`Groove.notes`) keeps every
  note of it, and the new bars are added as notes of their own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from explorer.errors import DatasetError, ExplorerError
from explorer.model.conditions import condition, require_multitask
from explorer.notes.drums import DRUM_CLASSES, NUM_CLASSES
from explorer.notes.grid import STEPS_PER_BAR, WINDOW_BARS, WINDOW_STEPS
from explorer.notes.groove import Groove
from explorer.notes.similarity import jaccard
from explorer.tools.feel import feel_of, with_feel
from explorer.tools.infill import written_onto

MAX_SONG_BARS = 64
CONTEXT_BARS = WINDOW_BARS - 1  # the bars a new bar is written from (keep_bars was trained with 1 to 3)
FILL_EVERY_CHOICES = (0, 2, 4, 8)  # 0: no fills
FILL_STRENGTH = 5.0  # how far a model's fill bar's code moves along the fill direction (docs/CONTINUATION.md)
# Where fill bars come from: "model" = drawn by the model with its code moved along the fill direction (the default:
# as fill-like as GMD's own fills and the most real windows, docs/CONTINUATION.md); "drummers" = the GMD fill whose
# beat before it is most like the song's bars before it, as played.
FILL_SOURCES = ("model", "drummers")
CRASH, KICK, CLOSED_HAT = (DRUM_CLASSES.index(d) for d in ("crash", "kick", "closed hi-hat"))
NEAREST_FILLS = 8  # GMD's drummers' fills: drawn from this many of the most fitting
MIN_FILL_HITS = 4  # a GMD fill file whose first bar has fewer hits starts late: it is not used
CRASH_VELOCITY = 0.85  # MIDI ~108: the downbeat after a fill is played out


class SongLengthError(ExplorerError, ValueError):
    """A song length the groove cannot be continued to."""


@dataclass(frozen=True)
class ContinueOptions:
    temperature: float = 0.8  # how freely each bar is drawn (0: the most likely; docs/CONTINUATION.md)
    seed: int = 0
    fill_every: int = 4  # a fill in the last bar of every this many bars; 0 for none
    variation: float = 0.5  # 0: loop the seed; 1: each bar from the bars before it alone
    fill_source: str = FILL_SOURCES[0]  # FILL_SOURCES: the model's fills, or GMD's drummers' own
    fill_strength: float = FILL_STRENGTH  # the model's fills: how far their code moves along the fill direction

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError("temperature must be 0 or more")
        if not 0.0 <= self.variation <= 1.0:
            raise ValueError("variation must lie in [0, 1]")
        if self.fill_source not in FILL_SOURCES:
            raise ValueError(f"fill_source must be one of {', '.join(FILL_SOURCES)}")
        if self.fill_every not in FILL_EVERY_CHOICES:
            raise ValueError(f"fill_every must be one of {', '.join(map(str, FILL_EVERY_CHOICES))}")


def fill_bars(seed_bars: int, bars: int, fill_every: int) -> list[int]:
    """The bars (0-based) that are fills: the last of every `fill_every`, after the seed's own bars."""
    if not fill_every:
        return []
    return [b for b in range(seed_bars, bars) if (b + 1) % fill_every == 0]


def continue_groove(model, groove: Groove, bars: int, options: ContinueOptions = ContinueOptions(),
                    fills: FillBank | None = None) -> Groove:
    """`groove` (whole bars) continued to `bars` bars; its own bars first, as they were. `fills`: GMD's fills
    (`gmd_fills`), which fill bars are drawn from (options.fill_source); without it, fill bars are written as any
    other bar and only the downbeat after them is marked."""
    require_multitask(model, "continuing")
    seed_bars = int(groove.steps // STEPS_PER_BAR)
    if groove.steps % STEPS_PER_BAR or seed_bars < 1:
        raise SongLengthError(f"'{groove.source}' is not a whole number of bars.")
    if not seed_bars < bars <= MAX_SONG_BARS:
        raise SongLengthError(f"'{groove.source}' has {seed_bars} bars: continue it to {seed_bars + 1}–"
                              f"{MAX_SONG_BARS} bars, not {bars}.")
    steps = model.config.steps
    seed_view = groove.model_view()
    seed_tensor = seed_view.tensor()
    song = np.zeros((bars * STEPS_PER_BAR, 3 * NUM_CLASSES), np.float32)
    song[:len(seed_tensor)] = seed_tensor
    loop_codes = _loop_codes(model, seed_tensor, seed_bars) if options.variation < 1 else None
    fills_bank, fills = fills, set(fill_bars(seed_bars, bars, options.fill_every))
    drawn: list[int] = []  # the bars the model drew
    for bar in range(seed_bars, bars):
        kept = min(CONTEXT_BARS, bar)
        before = song[(bar - kept) * STEPS_PER_BAR:bar * STEPS_PER_BAR]
        if bar in fills and fills_bank is not None and options.fill_source == "drummers":  # a recorded fill
            rng = np.random.default_rng([options.seed, bar])
            song[bar * STEPS_PER_BAR:(bar + 1) * STEPS_PER_BAR] = fills_bank.nearest(before, rng)
        elif options.variation == 0 and bar not in fills:  # "loop it": the seed's own bar, as played
            song[bar * STEPS_PER_BAR:(bar + 1) * STEPS_PER_BAR] = _seed_bar(seed_tensor, bar % seed_bars)
        else:
            window = np.zeros((steps, 3 * NUM_CLASSES), np.float32)
            window[:len(before)] = before
            visible = np.zeros((steps, NUM_CLASSES), np.float32)
            visible[:kept * STEPS_PER_BAR] = 1.0
            z, _ = model.encode(np.concatenate([window, condition("keep_bars", steps, visible)], -1)[None])
            if loop_codes is not None:
                z = options.variation * z + (1 - options.variation) * loop_codes[(bar - kept) % seed_bars]
            if bar in fills and fills_bank is not None and options.fill_source == "model":
                z = z + options.fill_strength * fills_bank.direction(model)
            drawn.append(bar)
            busy = None if bar in fills else seed_tensor[:, :NUM_CLASSES].sum() / seed_bars  # a fill may be busier
            song[bar * STEPS_PER_BAR:(bar + 1) * STEPS_PER_BAR] = _draw_bar(model, z, window, kept, options, bar,
                                                                            busy)
        if bar - 1 in fills:
            _crash_on_the_downbeat(song, bar)
    _balance_like(song, seed_tensor, drawn)
    drawn_hits = np.zeros((len(song), NUM_CLASSES), bool)  # the model's bars take the seed's swing (loops and
    for bar in drawn:  # recorded fills are as played)
        rows = slice(bar * STEPS_PER_BAR, (bar + 1) * STEPS_PER_BAR)
        drawn_hits[rows] = song[rows, :NUM_CLASSES] > 0.5
    song[:, 2 * NUM_CLASSES:] = with_feel(feel_of(seed_view), song[:, 2 * NUM_CLASSES:], drawn_hits)
    song[:len(seed_tensor)] = seed_tensor  # the seed's bars exactly as they were
    name = f"{groove.source} continued to {bars} bars"
    result = Groove.from_tensor(song, groove.bpm, name)
    if groove.notes is None:
        return result
    new_cells = np.zeros(result.hits.shape, bool)
    new_cells[len(seed_tensor):] = True
    return written_onto(groove.notes, result, new_cells, bars=bars)


DENSITY_BAND = 0.25  # a drawn bar plays within this share of the seed's hits per bar …
DENSITY_DRAWS = 4  # … or the nearest of this many draws is taken (a drummer stays about as busy)


def _draw_bar(model, z: np.ndarray, window: np.ndarray, kept: int, options: ContinueOptions, bar: int,
              busy: float | None) -> np.ndarray:
    """The bar [16, 27] after the `kept` bars of `window`, drawn from z [1, z] with those bars held; with `busy`
    (hits per bar), drawn again while it plays more than DENSITY_BAND away from it, and the nearest draw kept."""
    steps = model.config.steps
    given, cells = window[:, :NUM_CLASSES].copy(), np.zeros((steps, NUM_CLASSES), bool)
    cells[:kept * STEPS_PER_BAR] = True
    best, distance = None, np.inf
    for draw in range(DENSITY_DRAWS if busy and options.temperature > 0 else 1):
        decoded = model.decode(z, options.temperature, options.seed + bar + draw * MAX_SONG_BARS,
                               given_hits=given[None], given_cells=cells[None])[0]
        candidate = decoded[kept * STEPS_PER_BAR:(kept + 1) * STEPS_PER_BAR]
        off = abs(candidate[:, :NUM_CLASSES].sum() / busy - 1) if busy else 0.0
        if off < distance:
            best, distance = candidate, off
        if distance <= DENSITY_BAND:
            break
    return best


def _balance_like(song: np.ndarray, seed_tensor: np.ndarray, drawn: list[int]) -> None:
    """The bars the model drew (`drawn`) scaled in dynamics, drum by drum, to the seed's mean velocity: the kit's
    balance goes on (a loud kick stays loud), the model's phrasing within it kept. Looped and recorded bars stay."""
    if not drawn:
        return
    steps = np.concatenate([np.arange(bar * STEPS_PER_BAR, (bar + 1) * STEPS_PER_BAR) for bar in drawn])
    new = song[steps]
    for drum in range(NUM_CLASSES):
        seed_hits, new_hits = seed_tensor[:, drum] > 0.5, new[:, drum] > 0.5
        if seed_hits.any() and new_hits.any():
            ratio = seed_tensor[seed_hits, NUM_CLASSES + drum].mean() / new[new_hits, NUM_CLASSES + drum].mean()
            new[new_hits, NUM_CLASSES + drum] = np.clip(new[new_hits, NUM_CLASSES + drum] * ratio, 1 / 127, 1.0)
    song[steps] = new


def _seed_bar(seed_tensor: np.ndarray, bar: int) -> np.ndarray:
    return seed_tensor[bar * STEPS_PER_BAR:(bar + 1) * STEPS_PER_BAR]


def _loop_codes(model, seed_tensor: np.ndarray, seed_bars: int) -> np.ndarray:
    """The seed's code at each bar of its loop: of the window starting at that bar, the seed looped to fill it."""
    steps = model.config.steps
    looped = np.tile(seed_tensor, (-(-(steps + len(seed_tensor)) // len(seed_tensor)), 1))
    windows = np.stack([looped[b * STEPS_PER_BAR:b * STEPS_PER_BAR + steps] for b in range(seed_bars)])
    return model.encode(windows)[0]


def _crash_on_the_downbeat(song: np.ndarray, bar: int) -> None:
    """The bar after a fill opens with a crash and a kick; the closed hi-hat gives way to the crash."""
    step = bar * STEPS_PER_BAR
    song[step, CRASH] = song[step, KICK] = 1.0
    song[step, NUM_CLASSES + CRASH] = max(song[step, NUM_CLASSES + CRASH], CRASH_VELOCITY)
    song[step, NUM_CLASSES + KICK] = max(song[step, NUM_CLASSES + KICK], CRASH_VELOCITY)
    song[step, [CLOSED_HAT, NUM_CLASSES + CLOSED_HAT, 2 * NUM_CLASSES + CLOSED_HAT]] = 0.0


@dataclass(frozen=True, eq=False)
class FillBank:
    """GMD's fills in their place (`fill_examples`): 4 bars of beat, and the same bars with a fill as the fourth."""

    beat_windows: np.ndarray  # [N, 64, 27]
    fill_windows: np.ndarray  # [N, 64, 27]
    _directions: dict = field(default_factory=dict, repr=False)

    def direction(self, model) -> np.ndarray:
        """The fill direction in `model`'s code space: the mean difference between the codes of the windows ending
        in a fill and of the same beats without it (computed once per model)."""
        key = model.info.sha256 if model.info is not None else id(model)  # an object id may be reused
        if key not in self._directions:
            self._directions[key] = (model.encode(self.fill_windows)[0]
                                     - model.encode(self.beat_windows)[0]).mean(axis=0)
        return self._directions[key]

    def nearest(self, before: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A fill bar [16, 27], as played, drawn by `rng` from the NEAREST_FILLS whose beat before it is most like
        `before` (up to 3 bars, [T, 27]) in its hits (Jaccard over the same number of bars): a song's fills vary."""
        steps = len(before)
        context = self.fill_windows[:, WINDOW_STEPS - STEPS_PER_BAR - steps:WINDOW_STEPS - STEPS_PER_BAR]
        alike = jaccard((before[None, :, :NUM_CLASSES] > 0.5).reshape(1, -1),
                        (context[..., :NUM_CLASSES] > 0.5).reshape(len(context), -1))[0]
        nearest = np.argsort(-alike, kind="stable")[:NEAREST_FILLS]
        return self.fill_windows[int(rng.choice(nearest)), -STEPS_PER_BAR:]


@functools.lru_cache(maxsize=1)
def gmd_fills() -> FillBank | None:
    """The fills of GMD's training split (about 500; reading them takes ~10 s, once per process); None when the
    dataset is not here."""
    from explorer.datasets import gmd  # pandas: only when GMD is read (the CLI starts without it)
    try:
        return FillBank(*fill_examples(gmd.load_info(gmd.gmd_root(download=False)), gmd.load_performance,
                                       "train"))
    except DatasetError:
        return None


def fill_examples(info, load_performance, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """GMD's fills in their place: for each fill performance of `split` (about a bar each), the beat it followed
    (the latest beat performance before it of the same session, style and tempo). Returns (beat windows: 4 bars of
    that beat, up to its last bar but one (a last bar is often an ending); fill windows: the same bars with the fill's
    first bar in place of the fourth), [N, 64, 27] each."""
    beats = info[info["beat_type"] == "beat"]
    number = info["id"].str.rsplit("/", n=1).str[1].astype(int)
    beat_windows, fill_windows, performances = [], [], {}
    for row in info[(info["beat_type"] == "fill") & (info["split"] == split)].itertuples():
        same = beats[(beats["session"] == row.session) & (beats["style"] == row.style) & (beats["bpm"] == row.bpm)
                     & (number[beats.index] < number[row.Index])]
        if same.empty:
            continue
        beat_file = same.loc[number[same.index].idxmax(), "midi_filename"]
        if beat_file not in performances:
            performances[beat_file] = load_performance(beat_file).tensor()
        beat = performances[beat_file]
        end = (len(beat) // STEPS_PER_BAR - 1) * STEPS_PER_BAR
        if end < WINDOW_BARS * STEPS_PER_BAR:
            continue
        fill = load_performance(row.midi_filename).tensor()[:STEPS_PER_BAR]
        if (fill[:, :NUM_CLASSES] > 0.5).sum() < MIN_FILL_HITS:
            continue
        window = beat[end - WINDOW_BARS * STEPS_PER_BAR:end]
        with_fill = window.copy()
        with_fill[-STEPS_PER_BAR:] = 0.0
        with_fill[len(window) - STEPS_PER_BAR:len(window) - STEPS_PER_BAR + len(fill)] = fill
        beat_windows.append(window)
        fill_windows.append(with_fill)
    return np.stack(beat_windows), np.stack(fill_windows)
