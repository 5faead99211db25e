"""The built-in NumPy drum kit (explorer/audio/drum_synth.py): one voice per drum class, velocity, panning and the
open hi-hat's choke, on hand-placed notes."""

from __future__ import annotations

import numpy as np

from explorer.audio import drum_synth
from explorer.notes.drums import DRUM_CLASSES

SR = 44100
KICK, SNARE, CLOSED_HAT, OPEN_HAT = 0, 1, 2, 3


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(signal))))


def test_the_kit_has_one_reproducible_read_only_voice_per_drum():
    kit = drum_synth.builtin_kit(SR)
    assert len(kit) == len(DRUM_CLASSES) and all(v.dtype == np.float32 and v.ndim == 1 for v in kit)
    assert all(0 < np.abs(v).max() <= 1.0 for v in kit) and not kit[KICK].flags.writeable
    drum_synth.builtin_kit.cache_clear()
    assert all(np.array_equal(a, b) for a, b in zip(kit, drum_synth.builtin_kit(SR), strict=True))


def test_a_note_starts_on_its_frame_and_velocity_sets_its_level():
    frames = SR
    loud = drum_synth.render([(1000, SNARE, 120)], frames, SR, 1)[:, 0]
    soft = drum_synth.render([(1000, SNARE, 40)], frames, SR, 1)[:, 0]
    assert not loud[:1000].any() and loud[1000:1100].any()
    np.testing.assert_allclose(soft, loud * (40 / 120) ** drum_synth.VELOCITY_EXPONENT, rtol=1e-5, atol=1e-7)


def test_hi_hat_is_on_the_left_and_a_mono_mix_is_the_sum_of_its_sides():
    stereo = drum_synth.render([(0, CLOSED_HAT, 100)], SR // 2, SR, 2)
    assert rms(stereo[:, 0]) > 1.5 * rms(stereo[:, 1])
    mono = drum_synth.render([(0, CLOSED_HAT, 100)], SR // 2, SR, 1)[:, 0]
    assert rms(mono) > 0 and stereo.shape == (SR // 2, 2) and mono.shape == (SR // 2,)


def test_the_open_hi_hat_is_choked_by_the_next_hi_hat_hit():
    open_alone = drum_synth.render([(0, OPEN_HAT, 100)], SR, SR, 2)
    choked = drum_synth.render([(0, OPEN_HAT, 100), (SR // 4, CLOSED_HAT, 100)], SR, SR, 2)
    later = slice(round(0.5 * SR), round(0.8 * SR))  # after the closed hat has died away
    assert np.abs(choked[later]).max() < 0.01 * np.abs(open_alone[later]).max()
    np.testing.assert_array_equal(choked[: SR // 4], open_alone[: SR // 4])  # untouched before the foot closes it


def test_a_note_near_the_end_is_cut_at_the_last_frame():
    audio = drum_synth.render([(SR - 10, KICK, 127)], SR, SR, 2)
    assert audio.shape == (SR, 2) and audio[-10:].any()
