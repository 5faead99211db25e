"""Audio for every groove: FluidSynth with a General MIDI drum kit, or the small drum synth written in NumPy.

`render` / `render_array` turn a Groove (or MIDI bytes) into WAV bytes / a float array; `render_wav` is the
cached form the app uses. Renderers:

- "fluidsynth": a General MIDI soundfont's Standard kit (channel 10, bank 128) played by libfluidsynth through
  pyfluidsynth, rendered offline into memory. The soundfont stays loaded, because loading it costs more than
  rendering a groove. When pyfluidsynth cannot load libfluidsynth but the `fluidsynth` program is on PATH,
  midi2audio runs that program instead: same kit, but it reloads the soundfont for every render.
- "builtin": the drum kit synthesized in NumPy (explorer/audio/drum_synth.py), with no system dependency; "auto" uses it
  whenever FluidSynth or a soundfont is missing.

Every render lays `loops` passes of the groove on one timeline, so a hit played early lands before its bar line
and the ring of a loop's last hits overlaps the next pass: loops join without a gap or click. A short tail lets
cymbals ring out; for a player that loops, the tail is wrapped onto the start instead and the file lasts exactly
its bars, so that the loop restarts on the bar. Every groove plays at one fixed gain per renderer, so that softer
playing sounds softer, and a limiter keeps the loudest peaks below full scale.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.audio import drum_synth
from explorer.audio.fluidsynth import (
    DEFAULT_KIT,
    INSTALL_HINT,
    KITS,
    close_engine,
    engine_pool,
    find_soundfont,
    pyfluidsynth,
    render_midi2audio,
    soundfont_label,
    soundfont_problem,
)
from explorer.errors import AudioError
from explorer.notes.drums import OUTPUT_PITCHES
from explorer.notes.groove import Groove, PlayedNotes
from explorer.notes.midi_read import DEFAULT_LIMITS, midi_to_performance
from explorer.notes.midi_write import groove_notes

log = logging.getLogger(__name__)

RENDERERS = ("fluidsynth", "builtin")
RENDERER_CHOICES = ("auto", *RENDERERS)
SAMPLE_RATE = 44100
TAIL_SECONDS = 1.5  # after the last pass, so cymbals ring out
TAIL_FADE_SECONDS = 0.5  # the end of the tail fades to silence instead of cutting a ringing cymbal
PEAK_LEVEL = 10 ** (-1 / 20)  # the limiter's ceiling, -1 dBFS: nothing clips
LIMITER_KNEE = 0.7  # of the ceiling: quieter samples pass unchanged
# One gain per engine, so that the median GMD test groove peaks at about -3 dBFS (measured over 40 test-split
# windows: raw peaks 0.04–0.16, median 0.128, for FluidSynth's FluidR3_GM at its default gain; 0.31–1.06, median
# 0.86, for the built-in kit): a groove played softer peaks lower, up to 10 dB quieter for GMD's softest, and the
# loudest are limited.
RENDER_GAIN = {"pyfluidsynth": 5.5, "midi2audio": 5.5, "numpy": 0.83}
MAX_LOOPS = 16
MAX_AUDIO_SECONDS = 30 * 60
CACHE_MAX_BYTES = 128 * 2**20  # ~75 rendered 4-bar grooves at 44.1 kHz stereo


# --- choosing a renderer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RendererChoice:
    """Which renderer plays, and why, in words for the app's status line."""

    name: str  # "fluidsynth" or "builtin"
    description: str  # "FluidSynth (FluidR3_GM)", "built-in synth: FluidSynth not installed", …
    soundfont: Path | None = None
    engine: str = "numpy"  # "pyfluidsynth", "midi2audio" or "numpy"


def choose_renderer(renderer: str = "auto") -> RendererChoice:
    """Resolve "auto" / "fluidsynth" / "builtin". Asking for FluidSynth when it cannot play raises AudioError."""
    if renderer not in RENDERER_CHOICES:
        raise AudioError(f"Unknown renderer '{renderer}'; choose one of {', '.join(RENDERER_CHOICES)}.")
    if renderer == "builtin":
        return RendererChoice("builtin", "built-in synth (selected)")
    engine = "pyfluidsynth" if pyfluidsynth() is not None else "midi2audio" if shutil.which("fluidsynth") else ""
    soundfont = find_soundfont()
    problem = "FluidSynth not installed" if not engine else soundfont_problem(soundfont)
    if problem:
        if renderer == "fluidsynth":
            raise AudioError(f"FluidSynth cannot play: {problem}. {INSTALL_HINT}")
        return RendererChoice("builtin", f"built-in synth: {problem}")
    via = "" if engine == "pyfluidsynth" else ", via midi2audio"
    return RendererChoice("fluidsynth", f"FluidSynth ({soundfont_label(soundfont)}{via})", soundfont, engine)


def available_renderers() -> list[str]:
    """The renderers that can play right now (the built-in synth always can)."""
    return [name for name in RENDERERS if name == "builtin" or choose_renderer("auto").name == name]


def describe_renderer(renderer: str = "auto") -> str:
    """What plays and why, e.g. "FluidSynth (FluidR3_GM)" or "built-in synth: FluidSynth not installed"
    (or why the renderer asked for cannot play)."""
    try:
        return choose_renderer(renderer).description
    except AudioError as error:
        return str(error)


# --- rendering --------------------------------------------------------------------------------------------------


def _to_groove(source: Groove | bytes | str | Path) -> Groove:
    if isinstance(source, Groove):
        return source
    return midi_to_performance(source).groove


def _check(groove: Groove, bpm: float, loops: int, sample_rate: int, channels: int) -> None:
    limits = DEFAULT_LIMITS
    if not limits.min_bpm <= bpm <= limits.max_bpm:
        raise AudioError(f"{bpm:g} bpm cannot be played; choose a tempo from {limits.min_bpm:g} to "
                         f"{limits.max_bpm:g} bpm.")
    if isinstance(loops, bool) or not isinstance(loops, (int, np.integer)) or not 1 <= loops <= MAX_LOOPS:
        raise AudioError(f"Loops must be a whole number from 1 to {MAX_LOOPS}, not {loops!r}.")
    if not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 192000:
        raise AudioError(f"Sample rate must be a whole number of Hz from 8000 to 192000, not {sample_rate!r}.")
    if channels not in (1, 2):
        raise AudioError(f"Audio is rendered in mono (1 channel) or stereo (2), not {channels!r} channels.")
    seconds = loops * groove.played_at(bpm).seconds
    if seconds > MAX_AUDIO_SECONDS:
        raise AudioError(f"{loops} × this groove would last {seconds / 60:.0f} minutes; up to "
                         f"{MAX_AUDIO_SECONDS // 60} minutes are rendered at a time.")


def note_frames(groove: Groove, bpm: float, loops: int, sample_rate: int) -> list[tuple[int, int, int, int]]:
    """(start frame, drum class, MIDI velocity, MIDI pitch) of every note of `loops` back-to-back passes, in time
    order: a groove with the musician's file behind it (at any tempo) sounds that file's own notes and pitches
    (a side-stick, a cowbell), else each hit sounds its class's General MIDI pitch.

    The passes are one continuous groove, so early hits of a pass land before its bar line.
    """
    played = groove.played_at(bpm)
    if played.notes is not None:
        length = played.seconds
        return sorted((round((start + k * length) * sample_rate), drum_class, velocity, pitch)
                      for k in range(loops) for start, drum_class, velocity, pitch in played.notes.sounding())
    return sorted((round(start * sample_rate), drum_class, velocity, OUTPUT_PITCHES[drum_class])
                  for start, drum_class, velocity in groove_notes(played.repeated(loops)))


def render_array(source: Groove | bytes | str | Path, bpm: float | None = None, loops: int = 1,
                 sample_rate: int = SAMPLE_RATE, renderer: str = "auto", channels: int = 2,
                 loop: bool = False, kit: str = DEFAULT_KIT) -> np.ndarray:
    """float32 [frames, channels]: `loops` passes plus TAIL_SECONDS, at the renderer's fixed gain, limited below
    PEAK_LEVEL. With `loop` (for a player that loops the file), exactly `loops` passes, the tail added onto the
    start: played in a loop, the last hits ring on into the next pass and every pass starts on the bar.

    `source` is a Groove or a MIDI file (bytes or path; read as one whole-file groove). `bpm` defaults to the
    groove's own tempo. `kit`: one of KITS (FluidSynth; the built-in synth has one kit).
    """
    _check_kit(kit)
    groove = _to_groove(source)
    bpm = float(bpm or groove.bpm)
    _check(groove, bpm, loops, sample_rate, channels)
    choice = choose_renderer(renderer)
    passes = round(loops * groove.played_at(bpm).seconds * sample_rate)
    frames = passes + round(TAIL_SECONDS * sample_rate)
    notes = note_frames(groove, bpm, loops, sample_rate)
    if not notes:  # nothing to play
        return np.zeros((passes if loop else frames, channels), np.float32)
    audio, engine = _render_notes(notes, frames, sample_rate, channels, choice, renderer, kit)
    return _finish(audio, engine, passes, loop, sample_rate)


def _check_kit(kit: str) -> None:
    if kit not in KITS:
        raise AudioError(f"Unknown kit '{kit}'; choose one of {', '.join(KITS)}.")


def render_played(played: PlayedNotes, renderer: str = "auto", sample_rate: int = SAMPLE_RATE,
                  channels: int = 2, kit: str = DEFAULT_KIT) -> bytes:
    """WAV bytes of a file's notes as played, in any meter (see `midi_reader.midi_to_notes`), plus the tail."""
    passes = round(played.seconds * sample_rate) + 1
    if passes > MAX_AUDIO_SECONDS * sample_rate:
        raise AudioError(f"This performance lasts over {MAX_AUDIO_SECONDS // 60} minutes; it is not rendered.")
    notes = [(round(start * sample_rate), int(drum), int(velocity), OUTPUT_PITCHES[int(drum)])
             for start, drum, velocity in zip(played.starts, played.classes, played.velocities, strict=True)]
    _check_kit(kit)
    audio, engine = _render_notes(notes, passes + round(TAIL_SECONDS * sample_rate), sample_rate, channels,
                                  choose_renderer(renderer), renderer, kit)
    return to_wav(_finish(audio, engine, passes, False, sample_rate), sample_rate)


def _finish(audio: np.ndarray, engine: str, passes: int, loop: bool, sample_rate: int) -> np.ndarray:
    """The tail wrapped onto the start (`loop`) or faded out, at the engine's gain, limited."""
    if loop:
        tail = audio[passes:]
        audio = audio[:passes].copy()
        audio[:len(tail)] += tail[:passes]
    else:
        fade = round(TAIL_FADE_SECONDS * sample_rate)
        audio[-fade:] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade, dtype=np.float32)))[:, None]
    return limit(audio * RENDER_GAIN[engine])


def limit(audio: np.ndarray, ceiling: float = PEAK_LEVEL, knee: float = LIMITER_KNEE) -> np.ndarray:
    """A soft limiter: samples below knee × ceiling pass unchanged, louder ones bend smoothly towards the ceiling
    and never pass it."""
    threshold = knee * ceiling
    magnitude = np.abs(audio)
    over = magnitude > threshold
    bent = threshold + (ceiling - threshold) * np.tanh((magnitude[over] - threshold) / (ceiling - threshold))
    limited = audio.copy()
    limited[over] = np.sign(audio[over]) * np.minimum(bent, ceiling)  # the sum rounds up at tanh's saturation
    return limited


def _render_notes(notes, frames: int, sample_rate: int, channels: int, choice: RendererChoice,
                  requested: str, kit: str = DEFAULT_KIT) -> tuple[np.ndarray, str]:
    """The raw audio, and the engine that played it (FluidSynth may fail over to the built-in synth)."""
    if choice.name == "builtin":
        return drum_synth.render(notes, frames, sample_rate, channels), "numpy"
    try:
        if choice.engine == "pyfluidsynth":
            audio = engine_pool(choice.soundfont).render(notes, frames, sample_rate, kit)
        else:
            audio = render_midi2audio(notes, frames, sample_rate, choice.soundfont, kit)
    except AudioError:
        if requested == "fluidsynth":
            raise
        log.warning("FluidSynth failed; playing the built-in synth instead", exc_info=True)
        return drum_synth.render(notes, frames, sample_rate, channels), "numpy"
    return (audio.mean(axis=1, keepdims=True) if channels == 1 else audio), choice.engine


def to_wav(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes of a float array [frames, channels] in [-1, 1]."""
    pcm = np.round(np.clip(audio, -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(pcm.shape[1])
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes(pcm.tobytes())
    return buffer.getvalue()


def render(source: Groove | bytes | str | Path, bpm: float | None = None, loops: int = 1,
           sample_rate: int = SAMPLE_RATE, renderer: str = "auto", channels: int = 2, loop: bool = False,
           kit: str = DEFAULT_KIT) -> bytes:
    """WAV bytes of `render_array` (not cached; the app uses `render_wav`)."""
    return to_wav(render_array(source, bpm, loops, sample_rate, renderer, channels, loop, kit), sample_rate)


ONE_SHOT_SECONDS = 1.2  # a hit and its ring (a crash rings longer; it is cut with a short fade)
ONE_SHOT_RATE = 22050  # the browser resamples; half the bytes of 44.1 kHz for the page to carry


@functools.lru_cache(maxsize=len(KITS))
def one_shots(kit: str = DEFAULT_KIT) -> tuple[bytes, ...]:
    """A mono WAV of one full-velocity hit of each drum class on `kit`, at the level of the rendered files: what the
    browser's players sound (scaled by (velocity / 127)², as FluidR3's kit and the built-in synth are)."""
    _check_kit(kit)
    choice = choose_renderer("auto")
    frames = round(ONE_SHOT_SECONDS * ONE_SHOT_RATE)
    fade = np.linspace(1.0, 0.0, round(0.1 * ONE_SHOT_RATE), dtype=np.float32)
    shots = []
    for drum_class, pitch in enumerate(OUTPUT_PITCHES):
        raw, engine = _render_notes([(0, drum_class, 127, pitch)], frames, ONE_SHOT_RATE, 1, choice, "auto", kit)
        raw = raw * RENDER_GAIN[engine]
        raw[-len(fade):] *= fade[:, None]
        shots.append(to_wav(limit(raw), ONE_SHOT_RATE))
    return tuple(shots)


# --- cache ------------------------------------------------------------------------------------------------------


class AudioCache:
    """A thread-safe least-recently-used map of rendered WAV bytes, bounded by their total size."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple, value: bytes) -> None:
        value = bytes(value)  # an immutable copy: whoever passed a bytearray cannot change the entry afterwards
        with self._lock:
            if key in self._items:
                self._size -= len(self._items.pop(key))
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes and len(self._items) > 1:
                self._size -= len(self._items.popitem(last=False)[1])

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = self.hits = self.misses = 0


CACHE = AudioCache()


def render_wav(groove: Groove, bpm: float | None = None, loops: int = 1, renderer: str = "auto",
               sample_rate: int = SAMPLE_RATE, loop: bool = False, kit: str = DEFAULT_KIT) -> bytes:
    """WAV bytes for the app, cached by what the groove sounds like and how it is rendered."""
    choice = choose_renderer(renderer)
    bpm = float(bpm or groove.bpm)
    kit_key = kit if choice.name == "fluidsynth" else DEFAULT_KIT  # the built-in synth has one kit
    key = (groove.content_key(), bpm, loops, choice.name, choice.engine, str(choice.soundfont), sample_rate, loop,
           kit_key)
    wav = CACHE.get(key)
    if wav is None:
        wav = render(groove, bpm, loops, sample_rate, renderer, loop=loop, kit=kit)
        CACHE.put(key, wav)
    return wav


def reset() -> None:
    """Forget the cache, the loaded synth and what was found installed (after installing FluidSynth, in tests)."""
    CACHE.clear()
    pyfluidsynth.cache_clear()
    one_shots.cache_clear()
    close_engine()
