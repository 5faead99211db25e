"""The built-in drum kit: nine drums synthesized in NumPy (tones, band-passed noise, TR-808-style metal), for
machines without FluidSynth or a soundfont. Panned, velocity-sensitive, with the open hi-hat choked by the next
hi-hat hit. explorer/audio/rendering.py decides when it plays.
"""

from __future__ import annotations

import functools

import numpy as np

from explorer.notes.drums import DRUM_CLASSES

# Each drum is a sum of decaying parts: (kind, low Hz, high Hz, seconds to fall by 60 dB, level).
# "tone": a sine whose pitch falls from high to low Hz, as a struck head does; "noise": white noise band-passed to
# low-high Hz (snare wires, cymbal wash); "metal": six square waves at the TR-808's cymbal frequencies (METAL_HZ),
# band-passed to low-high Hz.
BUILTIN_KIT = (
    (("tone", 48, 150, 0.45, 1.0), ("noise", 2000, 8000, 0.015, 0.3)),  # kick: head and beater click
    (("tone", 180, 330, 0.15, 0.7), ("noise", 1000, 6000, 0.22, 0.8)),  # snare: head and wires
    (("metal", 7000, 16000, 0.08, 0.6), ("noise", 7000, 16000, 0.07, 0.5)),  # closed hi-hat
    (("metal", 7000, 16000, 0.7, 0.6), ("noise", 7000, 16000, 0.6, 0.5)),  # open hi-hat
    (("tone", 82, 110, 0.8, 1.0), ("noise", 500, 5000, 0.05, 0.3)),  # low tom: head and stick
    (("tone", 110, 150, 0.7, 1.0), ("noise", 600, 6000, 0.05, 0.3)),  # mid tom
    (("tone", 150, 200, 0.6, 1.0), ("noise", 700, 7000, 0.05, 0.3)),  # high tom
    (("metal", 3000, 12000, 2.0, 0.5), ("noise", 2500, 12000, 1.8, 0.8)),  # crash
    (("metal", 2500, 12000, 1.6, 0.7), ("noise", 5000, 14000, 0.9, 0.3)),  # ride
)
METAL_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
PITCH_FALL_SECONDS = 0.04  # time constant of a tone's fall from its high to its low pitch
# Level of each drum at full velocity, and its place in the stereo image from the drummer's seat (-1 left, +1 right).
BUILTIN_LEVELS = (1.0, 0.85, 0.3, 0.35, 0.75, 0.75, 0.75, 0.45, 0.35)
BUILTIN_PAN = (0.0, 0.05, -0.35, -0.35, 0.45, 0.15, -0.1, -0.45, 0.4)
VELOCITY_EXPONENT = 2.0  # amplitude = (velocity / 127) ** 2: ~24 dB from velocity 30 to 120, as FluidR3's kit
HI_HAT_CLASSES = (2, 3)
OPEN_HI_HAT = 3
CHOKE_SECONDS = 0.01  # an open hi-hat fades out this fast when the hi-hat is hit again (closed by the foot)
assert len(BUILTIN_KIT) == len(BUILTIN_LEVELS) == len(BUILTIN_PAN) == len(DRUM_CLASSES)


def _band_pass(signal: np.ndarray, sample_rate: int, low: float, high: float) -> np.ndarray:
    """Fourth-order-like band-pass in the frequency domain, peak-normalised."""
    spectrum = np.fft.rfft(signal)
    frequencies = np.maximum(np.fft.rfftfreq(len(signal), 1 / sample_rate), 1e-3)
    gain = 1 / np.sqrt((1 + (low / frequencies) ** 4) * (1 + (frequencies / high) ** 4))
    filtered = np.fft.irfft(spectrum * gain, len(signal))
    return filtered / max(np.abs(filtered).max(), 1e-12)


def _drum_part(kind: str, low: float, high: float, seconds: float, length: int, sample_rate: int,
               rng: np.random.Generator) -> np.ndarray:
    time = np.arange(length) / sample_rate
    envelope = np.exp(-6.9 * time / seconds)  # e^-6.9 = -60 dB
    if kind == "tone":
        frequency = low + (high - low) * np.exp(-time / PITCH_FALL_SECONDS)
        return envelope * np.sin(2 * np.pi * np.cumsum(frequency) / sample_rate)
    if kind == "noise":
        return envelope * _band_pass(rng.standard_normal(length), sample_rate, low, high)
    squares = sum(np.sign(np.sin(2 * np.pi * hz * time)) for hz in METAL_HZ)
    return envelope * _band_pass(squares, sample_rate, low, min(high, 0.45 * sample_rate))


@functools.lru_cache(maxsize=4)
def builtin_kit(sample_rate: int) -> tuple[np.ndarray, ...]:
    """One mono float32 sample per drum class at full velocity (read-only, cached per sample rate)."""
    rng = np.random.default_rng(0)  # the same kit every time: renders are reproducible and cacheable
    kit = []
    for parts, level in zip(BUILTIN_KIT, BUILTIN_LEVELS, strict=True):
        length = int(max(part[3] for part in parts) * sample_rate)
        voice = sum(part[4] * _drum_part(*part[:4], length, sample_rate, rng) for part in parts)
        voice = (level * voice / np.abs(voice).max()).astype(np.float32)
        voice.setflags(write=False)
        kit.append(voice)
    return tuple(kit)


def _pan_gains(channels: int) -> np.ndarray:
    """[classes, channels] equal-power pan gains."""
    if channels == 1:
        return np.ones((len(BUILTIN_PAN), 1), np.float32)
    angle = (np.asarray(BUILTIN_PAN) + 1) * np.pi / 4
    return (np.sqrt(2) * np.stack([np.cos(angle), np.sin(angle)], axis=1)).astype(np.float32)


def render(notes: list[tuple[int, ...]], frames: int, sample_rate: int, channels: int) -> np.ndarray:
    """[frames, channels] float32 audio of `notes` (start frame, drum class, MIDI velocity, and any more fields, such
    as the pitch, which this kit of 9 voices does not use): each drum's hits summed into its own mono track, then
    the tracks panned into `channels`."""
    kit = builtin_kit(sample_rate)
    tracks: dict[int, np.ndarray] = {}
    hi_hat_frames = [frame for frame, drum, *_ in notes if drum in HI_HAT_CLASSES]
    choke = int(CHOKE_SECONDS * sample_rate)
    for frame, drum, velocity, *_ in notes:
        voice = kit[drum]
        if drum == OPEN_HI_HAT:
            voice = _choked(voice, frame, hi_hat_frames, choke)
        length = min(len(voice), frames - frame)
        if drum not in tracks:
            tracks[drum] = np.zeros(frames, np.float32)
        tracks[drum][frame:frame + length] += (velocity / 127) ** VELOCITY_EXPONENT * voice[:length]
    pans = _pan_gains(channels)
    mix = np.zeros((channels, frames), np.float32)  # channel-major: the sums run over contiguous memory
    for drum, track in tracks.items():
        for channel in range(channels):
            mix[channel] += pans[drum, channel] * track
    return np.ascontiguousarray(mix.T)


def _choked(voice: np.ndarray, frame: int, hi_hat_frames: list[int], choke: int) -> np.ndarray:
    """The open hi-hat cut short (with a fade) by the next hi-hat hit."""
    later = [f - frame for f in hi_hat_frames if f > frame]
    if not later or later[0] + choke >= len(voice):
        return voice
    cut = voice[:later[0] + choke].copy()
    cut[later[0]:] *= np.linspace(1, 0, choke, dtype=np.float32)
    return cut
