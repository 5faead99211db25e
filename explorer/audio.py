"""Audio for every groove: FluidSynth with a General MIDI drum kit, or the small drum synth written in NumPy.

`render` / `render_array` turn a Groove (or MIDI bytes) into WAV bytes / a float array; `render_wav` is the
cached form the app uses. Renderers:

- "fluidsynth": a General MIDI soundfont's Standard kit (channel 10, bank 128) played by libfluidsynth through
  pyfluidsynth, rendered offline into memory. The soundfont stays loaded, because loading it costs more than
  rendering a groove. When pyfluidsynth cannot load libfluidsynth but the `fluidsynth` program is on PATH,
  midi2audio runs that program instead: same kit, but it reloads the soundfont for every render.
- "builtin": the drum kit synthesized in NumPy (explorer/drum_synth.py), with no system dependency; "auto" uses it
  whenever FluidSynth or a soundfont is missing.

Every render lays `loops` passes of the groove on one timeline, so a hit played early lands before its bar line
and the ring of a loop's last hits overlaps the next pass: loops join without a gap or click. A short tail lets
cymbals ring out; for a player that loops, the tail is wrapped onto the start instead and the file lasts exactly
its bars, so that the loop restarts on the bar. Every groove plays at one fixed gain per renderer, so that softer
playing sounds softer, and a limiter keeps the loudest peaks below full scale.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import io
import logging
import os
import shutil
import tempfile
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from explorer import drum_synth
from explorer.errors import AudioError
from explorer.groove import DRUM_CHANNEL, OUTPUT_PITCHES, Groove, PlayedNotes, groove_notes
from explorer.midi_reader import DEFAULT_LIMITS, midi_to_performance

log = logging.getLogger(__name__)

RENDERERS = ("fluidsynth", "builtin")
ENGINES = 2  # FluidSynth renders at once: the machine class has 2 cores
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

DRUM_BANK = 128  # the General MIDI percussion bank
# The kits a listener chooses from: name → (label, preset in the soundfont's percussion bank). FluidR3_GM has all
# three; a soundfont without a kit's preset plays its Standard kit (preset 0). The built-in synth has one kit.
KITS = {"standard": ("Standard (General MIDI)", 0), "brushes": ("Jazz brushes", 40), "tr808": ("TR-808", 25)}
DEFAULT_KIT = "standard"
FLUID_BLOCK = 64  # FluidSynth renders in blocks of this many frames and starts notes only at their start
FLUID_WARN = 2  # FluidSynth's log level for warnings
# The first existing one is used unless SOUNDFONT names a file. FluidR3_GM first: of the Debian General MIDI fonts
# it is the one whose cymbals keep their top end (TimGM6mb's open hi-hat and crash have 1-2 % of their energy above
# 10 kHz, FluidR3's 18-55 %) and whose kit is panned in stereo; MuseScore's SF3 is mono and takes 5 s to load.
SOUNDFONT_LOCATIONS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),  # Debian: fluid-soundfont-gm (142 MB)
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),  # Debian: timgm6mb-soundfont (6 MB)
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),  # Debian: musescore-general-soundfont-small (40 MB)
    Path("/usr/share/sounds/sf2/default-GM.sf2"),  # Debian's alternatives link to whichever is installed
)
INSTALL_HINT = ("Install it with `sudo apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm` "
                "(or set SOUNDFONT to a .sf2 file).")

# --- FluidSynth -------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _pyfluidsynth():
    """The pyfluidsynth module, or None when it or libfluidsynth is missing (checked once: it searches the disk)."""
    try:
        return importlib.import_module("fluidsynth")
    except (ImportError, OSError):
        return None


def find_soundfont() -> Path | None:
    """$SOUNDFONT when set, else the first Debian General MIDI soundfont that exists."""
    configured = os.environ.get("SOUNDFONT", "").strip()
    if configured:
        return Path(configured).expanduser()
    return next((path for path in SOUNDFONT_LOCATIONS if path.is_file()), None)


def _soundfont_problem(soundfont: Path | None) -> str | None:
    if soundfont is None:
        return "no General MIDI soundfont found"
    if not soundfont.is_file():
        return f"SOUNDFONT is set to '{soundfont}', which does not exist"
    with soundfont.open("rb") as file:
        header = file.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        return f"'{soundfont}' is not a SoundFont (.sf2/.sf3) file"
    return None


def _soundfont_label(soundfont: Path) -> str:
    return soundfont.resolve().stem


def _c_function(fluidsynth, name: str, result, *arguments: tuple[str, type]):
    """A libfluidsynth function pyfluidsynth does not wrap (None if this libfluidsynth lacks it)."""
    return fluidsynth.cfunc(name, result, *((argument, kind, 1) for argument, kind in arguments))


class _FluidSynthEngine:
    """A soundfont loaded once, played by a fresh synth for each render.

    Loading FluidR3_GM takes ~0.4 s; a synth sharing the loaded font takes ~3 ms. A fresh synth per render makes
    renders exact and repeatable (a reused one carries reverb, chorus and voice state from render to render); the
    lock keeps one render at a time on the shared font, so the engine can be shared between sessions.
    """

    def __init__(self, soundfont: Path):
        fluidsynth = _pyfluidsynth()
        self.soundfont = soundfont
        self._fluidsynth = fluidsynth
        c_synth, c_int, c_pointer = ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
        self._get_font = _c_function(fluidsynth, "fluid_synth_get_sfont_by_id", c_pointer,
                                     ("synth", c_synth), ("id", c_int))
        self._add_font = _c_function(fluidsynth, "fluid_synth_add_sfont", c_int, ("synth", c_synth),
                                     ("sfont", c_pointer))
        self._remove_font = _c_function(fluidsynth, "fluid_synth_remove_sfont", c_int, ("synth", c_synth),
                                        ("sfont", c_pointer))
        self._set_log_function = _c_function(fluidsynth, "fluid_set_log_function", c_pointer, ("level", c_int),
                                             ("fun", c_pointer), ("data", c_pointer))
        # pyfluidsynth wraps only the 16-bit writer; float output keeps the quiet raw signal's full resolution.
        self._write_float = _c_function(
            fluidsynth, "fluid_synth_write_float", c_int, ("synth", c_synth), ("len", c_int), ("lout", c_pointer),
            ("loff", c_int), ("lincr", c_int), ("rout", c_pointer), ("roff", c_int), ("rincr", c_int))
        self._library = fluidsynth.Synth()  # owns the loaded font; never plays
        font_id = self._library.sfload(str(soundfont))
        self._font = self._get_font(self._library.synth, font_id) if font_id >= 0 and self._get_font else None
        if not self._font or None in (self._add_font, self._remove_font, self._write_float, self._set_log_function):
            self._library.delete()
            raise AudioError(f"FluidSynth could not load the soundfont '{soundfont}'. {INSTALL_HINT}")
        self._lock = threading.Lock()
        self._closed = False

    def render(self, notes: list[tuple[int, int, int, int]], frames: int, sample_rate: int,
               kit: str = DEFAULT_KIT) -> np.ndarray:
        """Stereo float32 [frames, 2] on `kit` (KITS). FluidSynth starts notes only at the start of its 64-frame
        blocks: each note is sent at the boundary nearest to its frame (±0.7 ms at 44.1 kHz)."""
        audio = np.zeros((frames, 2), np.float32)
        with self._lock:
            if self._closed:  # replaced while this render waited for the lock; its font is gone
                raise AudioError("The soundfont was unloaded during the render; try again.")
            synth = self._fluidsynth.Synth(samplerate=float(sample_rate))
            try:
                font_id = self._add_font(synth.synth, self._font)
                if synth.program_select(DRUM_CHANNEL, font_id, DRUM_BANK, KITS[kit][1]) != 0:
                    synth.program_select(DRUM_CHANNEL, font_id, DRUM_BANK, KITS[DEFAULT_KIT][1])
                position = 0
                for frame, _, velocity, pitch in notes:
                    boundary = max(position, round(frame / FLUID_BLOCK) * FLUID_BLOCK)
                    self._write(synth, audio, position, boundary)
                    position = boundary
                    synth.noteon(DRUM_CHANNEL, pitch, velocity)  # no note-off: drums ring out
                self._write(synth, audio, position, frames)
            finally:
                self._unplug_font(synth)
                synth.delete()
        return audio

    def _unplug_font(self, synth) -> None:
        """Take the shared font out of a synth before deleting it (which would free the font), quietly: without
        a font, FluidSynth warns once per MIDI channel that it has no preset."""
        default_logger = self._set_log_function(FLUID_WARN, None, None)
        try:
            self._remove_font(synth.synth, self._font)
        finally:
            self._set_log_function(FLUID_WARN, default_logger, None)

    def _write(self, synth, audio: np.ndarray, start: int, stop: int) -> None:
        """Synthesize frames start..stop of `audio` (a C-contiguous float32 [frames, 2] array)."""
        stop = min(stop, len(audio))  # the C function trusts its arguments: never let it write past the array
        if stop > start:
            address = audio.ctypes.data
            self._write_float(synth.synth, stop - start, address, 2 * start, 2, address, 2 * start + 1, 2)

    def close(self) -> None:
        with self._lock:
            self._library.delete()
            self._closed = True


class _EnginePool:
    """Up to ENGINES loaded copies of one soundfont, so that a page's players render side by side (one per core).
    The second copy is loaded only when two renders overlap; a render waits while every copy is busy."""

    def __init__(self, soundfont: Path):
        self.soundfont = soundfont
        self._idle = [_FluidSynthEngine(soundfont)]
        self._loaded = 1
        self._changed = threading.Condition()
        self._closed = False

    @property
    def loaded(self) -> int:
        return self._loaded

    def render(self, notes: list[tuple[int, int, int, int]], frames: int, sample_rate: int,
               kit: str = DEFAULT_KIT) -> np.ndarray:
        engine = self._acquire()
        try:
            return engine.render(notes, frames, sample_rate, kit)
        finally:
            with self._changed:
                if self._closed:
                    engine.close()
                else:
                    self._idle.append(engine)
                    self._changed.notify()

    def _acquire(self) -> _FluidSynthEngine:
        with self._changed:
            while not self._idle and self._loaded >= ENGINES and not self._closed:
                self._changed.wait()
            if self._closed:
                raise AudioError("The soundfont was unloaded during the render; try again.")
            if self._idle:
                return self._idle.pop()
            self._loaded += 1
        try:
            return _FluidSynthEngine(self.soundfont)  # loaded outside the lock: renders on the first copy go on
        except BaseException:
            with self._changed:
                self._loaded -= 1
                self._changed.notify()
            raise

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for engine in idle:
            engine.close()


_engine: _EnginePool | None = None
_engine_lock = threading.Lock()


def _fluidsynth_engine(soundfont: Path) -> _EnginePool:
    """The loaded soundfont (FluidR3 takes ~150 MB of memory a copy), replaced when SOUNDFONT changes."""
    global _engine
    with _engine_lock:
        old = _engine
        if old is not None and old.soundfont == soundfont:
            return old
        _engine = _EnginePool(soundfont)
        engine = _engine
    if old is not None:
        old.close()  # copies in use close when their render ends
    return engine


def _render_midi2audio(notes: list[tuple[int, int, int, int]], frames: int, sample_rate: int,
                       soundfont: Path, kit: str = DEFAULT_KIT) -> np.ndarray:
    """Through the `fluidsynth` program. It reloads the font every call, ignores errors (hence the file check),
    is quiet, and runs until every voice dies: the result is cut to `frames` and normalised later."""
    from midi2audio import FluidSynth
    from scipy.io import wavfile

    ticks_per_second = 1920  # 960 per quarter at mido's default 120 bpm: 0.5 ms resolution
    track = mido.MidiTrack([mido.Message("program_change", channel=DRUM_CHANNEL, program=KITS[kit][1])])
    now = 0
    for frame, _, velocity, pitch in notes:
        tick = round(frame / sample_rate * ticks_per_second)
        track.append(mido.Message("note_on", channel=DRUM_CHANNEL, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    end = round(frames / sample_rate * ticks_per_second)
    for pitch in sorted({pitch for *_, pitch in notes}):
        track.append(mido.Message("note_off", channel=DRUM_CHANNEL, note=pitch, time=end - now))
        now = end
    from explorer import dataset

    scratch = dataset.DATA_DIR / "tmp"  # the app writes nowhere outside data/
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="groove-audio-", dir=scratch) as folder:
        midi_path, wav_path = Path(folder) / "groove.mid", Path(folder) / "groove.wav"
        mido.MidiFile(ticks_per_beat=960, tracks=[track]).save(midi_path)
        FluidSynth(str(soundfont), sample_rate).midi_to_audio(str(midi_path), str(wav_path))
        if not wav_path.is_file() or wav_path.stat().st_size <= 44:
            raise AudioError(f"The fluidsynth program wrote no audio (soundfont '{soundfont}'). {INSTALL_HINT}")
        _, data = wavfile.read(wav_path)
    scale = np.iinfo(data.dtype).max if np.issubdtype(data.dtype, np.integer) else 1.0
    data = (data.reshape(len(data), -1) / scale).astype(np.float32)[:frames]
    return np.pad(data, ((0, frames - len(data)), (0, 0)))


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
    engine = "pyfluidsynth" if _pyfluidsynth() is not None else "midi2audio" if shutil.which("fluidsynth") else ""
    soundfont = find_soundfont()
    problem = "FluidSynth not installed" if not engine else _soundfont_problem(soundfont)
    if problem:
        if renderer == "fluidsynth":
            raise AudioError(f"FluidSynth cannot play: {problem}. {INSTALL_HINT}")
        return RendererChoice("builtin", f"built-in synth: {problem}")
    via = "" if engine == "pyfluidsynth" else ", via midi2audio"
    return RendererChoice("fluidsynth", f"FluidSynth ({_soundfont_label(soundfont)}{via})", soundfont, engine)


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
            audio = _fluidsynth_engine(choice.soundfont).render(notes, frames, sample_rate, kit)
        else:
            audio = _render_midi2audio(notes, frames, sample_rate, choice.soundfont, kit)
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
    global _engine
    CACHE.clear()
    _pyfluidsynth.cache_clear()
    one_shots.cache_clear()
    with _engine_lock:
        old, _engine = _engine, None
    if old is not None:
        old.close()
