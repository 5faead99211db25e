"""FluidSynth: the soundfont found installed, its kits, and a pool of loaded synths that render a groove's notes
(through pyfluidsynth in process, or the `fluidsynth` program through midi2audio)."""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
import tempfile
import threading
from pathlib import Path

import mido
import numpy as np

import explorer.files
from explorer.errors import AudioError
from explorer.notes.drums import DRUM_CHANNEL

ENGINES = 2  # FluidSynth renders at once: the machine class has 2 cores
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


@functools.lru_cache(maxsize=1)
def pyfluidsynth():
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


def soundfont_problem(soundfont: Path | None) -> str | None:
    if soundfont is None:
        return "no General MIDI soundfont found"
    if not soundfont.is_file():
        return f"SOUNDFONT is set to '{soundfont}', which does not exist"
    with soundfont.open("rb") as file:
        header = file.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        return f"'{soundfont}' is not a SoundFont (.sf2/.sf3) file"
    return None


def soundfont_label(soundfont: Path) -> str:
    return soundfont.resolve().stem


def _c_function(fluidsynth, name: str, result, *arguments: tuple[str, type]):
    """A libfluidsynth function pyfluidsynth does not wrap (None if this libfluidsynth lacks it)."""
    return fluidsynth.cfunc(name, result, *((argument, kind, 1) for argument, kind in arguments))


class FluidSynthEngine:
    """A soundfont loaded once, played by a fresh synth for each render.

    Loading FluidR3_GM takes ~0.4 s; a synth sharing the loaded font takes ~3 ms. A fresh synth per render makes
    renders exact and repeatable (a reused one carries reverb, chorus and voice state from render to render); the
    lock keeps one render at a time on the shared font, so the engine can be shared between sessions.
    """

    def __init__(self, soundfont: Path):
        fluidsynth = pyfluidsynth()
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


class EnginePool:
    """Up to ENGINES loaded copies of one soundfont, so that a page's players render side by side (one per core).
    The second copy is loaded only when two renders overlap; a render waits while every copy is busy."""

    def __init__(self, soundfont: Path):
        self.soundfont = soundfont
        self._idle = [FluidSynthEngine(soundfont)]
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

    def _acquire(self) -> FluidSynthEngine:
        with self._changed:
            while not self._idle and self._loaded >= ENGINES and not self._closed:
                self._changed.wait()
            if self._closed:
                raise AudioError("The soundfont was unloaded during the render; try again.")
            if self._idle:
                return self._idle.pop()
            self._loaded += 1
        try:
            return FluidSynthEngine(self.soundfont)  # loaded outside the lock: renders on the first copy go on
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


_engine: EnginePool | None = None
_engine_lock = threading.Lock()


def engine_pool(soundfont: Path) -> EnginePool:
    """The loaded soundfont (FluidR3 takes ~150 MB of memory a copy), replaced when SOUNDFONT changes."""
    global _engine
    with _engine_lock:
        old = _engine
        if old is not None and old.soundfont == soundfont:
            return old
        _engine = EnginePool(soundfont)
        engine = _engine
    if old is not None:
        old.close()  # copies in use close when their render ends
    return engine


def render_midi2audio(notes: list[tuple[int, int, int, int]], frames: int, sample_rate: int,
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
    scratch = explorer.files.DATA_DIR / "tmp"  # the app writes nowhere outside data/
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


def close_engine() -> None:
    """Unload the soundfont (the next render loads it again)."""
    global _engine
    with _engine_lock:
        old, _engine = _engine, None
    if old is not None:
        old.close()
