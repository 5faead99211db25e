"""The musician's record: hand-built drum-machine files (side-stick, cowbell, clap, GM toms, ride bell, flams,
ghost notes, triplet swing, two tracks) read, viewed as the model's groove, written back note for note, and
excerpted; GMD files excerpted with every pitch they hold."""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from explorer.audio import rendering
from explorer.errors import MidiError
from explorer.notes.drums import DRUM_CLASSES
from explorer.notes.groove import Groove
from explorer.notes.join import chain
from explorer.notes.midi_write import groove_to_midi
from explorer.notes.record import NoteRecord
from tests.factories import STEP, drum_file, drum_machine_loop, note, one_track_file, read_back, track_lengths

TPB = 480
SNARE, CLOSED_HAT, LOW_TOM = (DRUM_CLASSES.index(n) for n in ("snare", "closed hi-hat", "low tom"))


def heard_notes(data: bytes) -> list[tuple[float, int, int]]:
    """(seconds, pitch, velocity) of every note-on, as mido plays the file through its tempo changes."""
    heard, now = [], 0.0
    for message in mido.MidiFile(file=io.BytesIO(data)):
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            heard.append((now, message.note, message.velocity))
    return heard


def test_every_note_is_listed_with_its_own_pitch_and_the_model_view_maps_them():
    record = NoteRecord.from_midi(drum_machine_loop(), "loop.mid")
    pitches = sorted({note.pitch for note in record.notes})
    assert pitches == [36, 37, 38, 39, 41, 42, 45, 48, 53, 56]
    assert len(record.notes) == len(read_back(drum_machine_loop()))
    groove = record.groove()
    assert groove.bars == 2 and groove.bpm == pytest.approx(100)
    # the side-stick, its flam's grace note, the clap and the cowbell (GM's map) share a snare cell; the side-stick
    # (loudest) is its main note
    assert groove.hits[4, SNARE] == 1 and groove.velocities[4, SNARE] == pytest.approx(120 / 127)
    assert groove.offsets[4, SNARE] == 0
    cell = record.cells()[(20, SNARE)]
    assert next(record.notes[i].pitch for i in cell) == 37 and sorted(record.notes[i].pitch for i in cell) == [
        37, 38, 39, 56]
    assert groove.hits[28:31, LOW_TOM].sum() >= 1  # GM toms land in tom classes


def test_an_unchanged_record_writes_every_note_back_and_ends_on_the_bar():
    data = drum_machine_loop()
    record = NoteRecord.from_midi(data, "loop.mid")
    written = record.to_midi()
    assert sorted(read_back(written)) == sorted(read_back(data))
    assert track_lengths(written) == [2 * 4 * TPB] * 2
    midi = mido.MidiFile(file=io.BytesIO(written))
    assert [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"] == [mido.bpm2tempo(100)]


def test_moved_notes_keep_their_length_and_a_repeated_note_is_not_cut():
    record = NoteRecord.from_midi(drum_machine_loop(), "loop.mid")
    ticks = np.array([n.tick for n in record.notes]) + 7
    velocities = np.array([n.velocity for n in record.notes]) // 2
    moved = record.with_notes(ticks, velocities)
    back = read_back(moved.to_midi())
    assert sorted((t, p, v) for _, t, _, p, v in back) == sorted(
        (n.tick + 7, n.pitch, n.velocity // 2) for n in record.notes)
    again = NoteRecord.from_midi(moved.to_midi(), "moved.mid")
    assert len(again.notes) == len(record.notes)  # every note-off still follows its own note-on


def test_a_triplet_swing_file_is_read_on_the_nearest_16th():
    swung = [(beat * TPB + offbeat, 42, 90) for beat in range(8) for offbeat in (0, 2 * TPB // 3)]
    record = NoteRecord.from_midi(drum_file(swung), "swing.mid")
    groove = record.groove()
    # the triplet 8th (2/3 of a beat = 2.67 16ths) lands on the 4th 16th (step 3), played late
    assert groove.hits[3, CLOSED_HAT] == 1 and groove.offsets[3, CLOSED_HAT] == pytest.approx(2 * (3 - 8 / 3))


def test_other_tracks_channels_and_messages_pass_through():
    extra = [mido.Message("program_change", channel=0, program=33, time=0),
             mido.Message("note_on", channel=0, note=40, velocity=80, time=TPB),
             mido.Message("note_off", channel=0, note=40, time=TPB)]
    data = drum_file([(0, 36, 100), (4 * STEP, 38, 100)], extra_track=extra, bars=1)
    record = NoteRecord.from_midi(data, "band.mid")
    assert [n.pitch for n in record.notes] == [36, 38]  # only channel 10 is drums
    moved = record.with_notes(np.array([10, 4 * STEP + 10]), np.array([50, 60]))
    back = read_back(moved.to_midi())
    assert (0, TPB, 0, 40, 80) in back  # the bass note, untouched
    assert any(m.type == "program_change" for m in mido.MidiFile(file=io.BytesIO(moved.to_midi())).tracks[0])


def test_an_excerpt_keeps_the_other_tracks_notes_of_its_bars():
    """A piano's notes in the excerpt's bars come along (a note held past its end is released on it), and so does a
    bass note held into them from the bar before (it starts with them); notes of other bars do not."""
    played = [(0, 3 * TPB, 0, 60), (4 * TPB, 7 * TPB, 0, 61), (8 * TPB, 13 * TPB, 0, 62),  # the last rings on
              (2 * TPB, 6 * TPB, 1, 40), (TPB, 2 * TPB, 1, 38)]  # bass: one note held over bar 2's line, one not
    events = sorted([(on, 1, mido.Message("note_on", channel=c, note=n, velocity=70)) for on, _, c, n in played]
                    + [(off, 0, mido.Message("note_off", channel=c, note=n)) for _, off, c, n in played],
                    key=lambda event: event[:2])
    band = [message.copy(time=tick - previous) for (tick, _, message), previous in
            zip(events, [0] + [tick for tick, _, _ in events[:-1]], strict=True)]
    data = drum_file([(bar * 16 * STEP, 36, 100) for bar in range(3)], extra_track=band, bars=3)
    excerpt = NoteRecord.from_midi(data, "band.mid").excerpt(1, 2)
    back = read_back(excerpt.to_midi())
    assert sorted((tick, channel, pitch) for track, tick, channel, pitch, _ in back if channel != 9) == [
        (0, 0, 61), (0, 1, 40), (4 * TPB, 0, 62)]
    band_track = mido.MidiFile(file=io.BytesIO(excerpt.to_midi())).tracks[0]
    releases = sorted((tick, message.note) for tick, message in absolute(band_track) if message.type == "note_off")
    assert releases == [(2 * TPB, 40), (3 * TPB, 61), (8 * TPB, 62)]
    assert track_lengths(excerpt.to_midi()) == [8 * TPB] * 2


def absolute(track) -> list[tuple[int, mido.Message]]:
    ticks, found = 0, []
    for message in track:
        ticks += message.time
        found.append((ticks, message))
    return found


@pytest.mark.parametrize("data", [b"garbage bytes", drum_machine_loop()[:60]])
def test_bad_files_get_the_readers_typed_errors(data):
    with pytest.raises(MidiError):
        NoteRecord.from_midi(data, "bad.mid")


def test_an_excerpt_of_a_gmd_performance_keeps_every_pitch_and_its_exact_timing(groove_dir):
    """GMD's pedal hi-hat (44) and ride bell (53) are written as themselves, at their own ticks and velocities."""
    import pandas as pd

    info = pd.read_csv(groove_dir / "info.csv")
    for filename in info[info.time_signature == "4-4"].midi_filename[:40]:
        data = (groove_dir / filename).read_bytes()
        record = NoteRecord.from_midi(data, filename)
        if {44, 53} <= {n.pitch for n in record.notes} and record.bars > 6:
            break
    else:
        pytest.fail("no GMD file among the first 40 plays both pedal hi-hat and ride bell")
    start = 2
    excerpt = record.excerpt(start, 4)
    first, stop = start * 16, (start + 4) * 16
    expected = sorted((n.pitch, max(n.tick - start * 16 * record.step_ticks, 0), n.velocity)
                      for n in record.notes if first <= record.step_of(n.tick) < stop)
    got = sorted((p, t, v) for _, t, _, p, v in read_back(excerpt.to_midi()))
    assert got == expected and len(got) > 20
    assert track_lengths(excerpt.to_midi()) == [4 * 16 * int(record.step_ticks)] * len(track_lengths(excerpt.data))
    assert excerpt.groove().hits.sum() == record.groove().window(start, 4).hits.sum()


def test_a_triplet_grid_is_told_from_a_straight_or_humanized_one():
    swung = [(beat * TPB + offbeat, 42, 90) for beat in range(8) for offbeat in (0, 2 * TPB // 3)]
    assert NoteRecord.from_midi(drum_file(swung), "swing.mid").triplet_share() == pytest.approx(0.5)
    assert NoteRecord.from_midi(drum_machine_loop(), "loop.mid").triplet_share() == 0
    rng = np.random.default_rng(0)
    loose = [(s * STEP + int(rng.integers(-40, 40)), 42, 90) for s in range(32)]
    assert NoteRecord.from_midi(drum_file(loose), "loose.mid").triplet_share() < 0.2


def test_new_notes_of_a_drum_take_its_most_typical_pitch_in_the_file():
    """Cowbell (56) and side-stick (37) both fall in the snare class; a cowbell on every 8th outnumbers a side-stick
    backbeat, yet a new snare note is a side-stick: the class's own pitch comes first. Pedal hats stay pedal hats."""
    notes = [(tick, 56, 80) for tick in range(0, 8 * TPB, TPB // 2)]
    notes += [(tick, 37, 100) for tick in (TPB, 3 * TPB, 5 * TPB, 7 * TPB)]
    notes += [(tick, 44, 60) for tick in range(0, 8 * TPB, TPB)] + [(0, 36, 110)]
    pitches = NoteRecord.from_midi(drum_file(notes)).main_pitches()
    classes = {name: DRUM_CLASSES.index(name) for name in ("kick", "snare", "closed hi-hat")}
    assert pitches == {classes["kick"]: 36, classes["snare"]: 37, classes["closed hi-hat"]: 44}


def test_a_flams_grace_note_does_not_choose_a_drums_new_pitch():
    """A side-stick backbeat flammed with a soft snare (38) before it: new snare notes are side-sticks; a few ghost
    snares of their own (38 as a cell's main note) do not outvote the backbeat either."""
    grace = [(beat * TPB - 12, 38, 30) for beat in (1, 3, 5, 7)]
    backbeat = [(beat * TPB, 37, 100) for beat in (1, 3, 5, 7)]
    assert NoteRecord.from_midi(drum_file(grace + backbeat)).main_pitches()[SNARE] == 37
    ghosts = [(tick, 38, 25) for tick in (3 * STEP, 11 * STEP)]
    assert NoteRecord.from_midi(drum_file(grace + backbeat + ghosts)).main_pitches()[SNARE] == 37
    assert NoteRecord.from_midi(drum_file([*ghosts, (0, 37, 90)])).main_pitches()[SNARE] == 38  # most played


def test_a_path_through_a_musicians_files_keeps_their_notes_at_their_own_tempos():
    """chain(): a path from a drum-machine loop (side-stick, cowbell, clap, ride bell at 100 bpm) through a model's
    groove (120 bpm) to another file (140 bpm, 96 ticks a beat) writes one file with every note of both files at its
    own pitch, each part at its tempo from its bar line, ending on the last bar line; its audio sounds those pitches
    at those times, and its model view is the parts' joined."""
    first = NoteRecord.from_midi(drum_machine_loop(), "loop.mid").groove()
    coarse = drum_file([(0, 36, 100), (2 * 24, 37, 90), (4 * 24 + 5, 56, 70)], bpm=140, bars=1, tpb=96)
    last = NoteRecord.from_midi(coarse, "coarse.mid").groove()
    hits = np.zeros((16, 9), np.float32)
    hits[[0, 8], 0] = 1
    middle = Groove(hits, hits * 0.8, hits * 0.5, 120.0, "model")
    path = chain([first, middle, last])
    assert path.tempo_changes == ((32, 120.0), (48, 140.0)) and path.notes is not None
    written = groove_to_midi(path)
    assert mido.MidiFile(file=io.BytesIO(written)).length == pytest.approx(path.seconds, abs=1e-5)  # to the bar line
    heard = heard_notes(written)
    second, third = first.seconds, first.seconds + middle.seconds
    expected = [(s, p, v) for s, _, v, p in first.notes.sounding()]
    # the model's kicks as the model's view of the path writes them, a quarter step early: the first one starts
    # before its part's bar line (at the tempo before it)
    middle_notes = [n for n in heard_notes(groove_to_midi(path.model_view())) if second - 0.1 < n[0] < third - 0.1]
    assert len(middle_notes) == 2 and middle_notes[0][0] == pytest.approx(second - 0.25 * 60 / 100 / 4, abs=1e-5)
    expected += middle_notes
    expected += [(third + s, p, v) for s, _, v, p in last.notes.sounding()]
    heard, expected = (sorted(notes, key=lambda n: (round(n[0], 4), n[1:])) for notes in (heard, expected))
    assert [n[1:] for n in heard] == [n[1:] for n in expected]
    np.testing.assert_allclose([n[0] for n in heard], [n[0] for n in expected], atol=1e-5)
    assert {pitch for when, pitch, _ in heard if when < second - 1e-3} == {36, 37, 38, 39, 41, 42, 45, 48, 53, 56}
    assert {pitch for when, pitch, _ in heard if when > third - 1e-3} == {36, 37, 56}
    played = rendering.note_frames(path, path.bpm, 1, 10_000)
    assert sorted(pitch for *_, pitch in played) == sorted(pitch for _, pitch, _ in heard)
    np.testing.assert_allclose(sorted(frame / 10_000 for frame, *_ in played), [n[0] for n in heard], atol=1e-4)
    view = path.notes.groove()
    np.testing.assert_array_equal(view.hits, path.hits)
    np.testing.assert_allclose(view.offsets, path.offsets, atol=1e-6)
    assert view.tempo_changes == path.tempo_changes


def test_a_path_of_one_track_files_is_one_drum_track_as_every_file_written():
    """A path through one-track files (GMD's, a drum machine's) and a model's groove writes one track, as
    groove_to_midi writes any groove: tempo, meter and every note in it, type 0."""
    loop = NoteRecord.from_midi(one_track_file(note(0, 36, 100), note(4 * STEP, 37, 90), bpm=100.0), "a.mid").groove()
    hits = np.zeros((16, 9), np.float32)
    hits[[0, 8], 0] = 1
    written = mido.MidiFile(file=io.BytesIO(groove_to_midi(chain([loop, Groove(hits, hits * 0.8, hits, 120.0)]))))
    assert written.type == 0 and len(written.tracks) == 1
    kinds = [message.type for message in written.tracks[0]]
    assert kinds.count("set_tempo") == 2 and kinds.count("time_signature") == 1 and kinds.count("note_on") == 4


def test_a_path_keeps_a_files_other_parts_in_each_pass():
    extra = [mido.Message("program_change", channel=0, program=33, time=0),
             mido.Message("note_on", channel=0, note=40, velocity=80, time=TPB),
             mido.Message("note_off", channel=0, note=40, time=TPB)]
    band = NoteRecord.from_midi(drum_file([(0, 36, 100), (4 * STEP, 38, 100)], extra_track=extra, bars=1),
                                "band.mid").groove()
    written = groove_to_midi(chain([band, band]))
    assert len(mido.MidiFile(file=io.BytesIO(written)).tracks) == 2  # the first track (bass, tempo), the drums
    back = read_back(written)
    assert sorted(t for _, t, channel, _, _ in back if channel == 0) == [TPB, TPB + 16 * STEP]  # the bass, twice
    assert sorted(t for _, t, channel, _, _ in back if channel == 9) == [0, 4 * STEP, 16 * STEP, 20 * STEP]


def test_a_fixed_tempo_plays_and_writes_every_note_of_the_file_on_its_ticks():
    """Groove.with_bpm (the sidebar's Fixed tempo) keeps the musician's file: the same notes, pitches, velocities and
    ticks, one tempo; the audio sounds its side-sticks and cowbells at the new tempo's times. A path's joined file
    loses its tempo changes likewise."""
    groove = NoteRecord.from_midi(drum_machine_loop(), "loop.mid").groove()
    faster = groove.played_at(125.0)
    assert faster.notes is not None and faster.notes.bpm == 125.0 and faster.bpm == 125.0
    written = groove_to_midi(groove, 125.0)
    assert sorted(read_back(written)) == sorted(read_back(drum_machine_loop()))  # every note, on its own tick
    midi = mido.MidiFile(file=io.BytesIO(written))
    assert [m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"] == [mido.bpm2tempo(125)]
    assert track_lengths(written) == [2 * 4 * TPB] * 2
    played = rendering.note_frames(groove, 125.0, 1, 10_000)
    expected = sorted((round(s * 100 / 125 * 10_000), p) for s, _, _, p in groove.notes.sounding())
    assert sorted(pitch for *_, pitch in played) == sorted(pitch for _, pitch in expected)
    np.testing.assert_allclose(sorted(frame for frame, *_ in played), [frame for frame, _ in expected], atol=1)
    assert {37, 56} <= {pitch for *_, pitch in played}
    path = chain([groove, groove.played_at(110.0)])
    assert path.tempo_changes == ((32, 110.0),)
    steady = path.played_at(105.0)
    assert steady.notes.tempo_changes == () and steady.tempo_changes == ()
    assert sorted((t, p, v) for _, t, _, p, v in read_back(groove_to_midi(steady))) == sorted(
        (t, p, v) for _, t, _, p, v in read_back(groove_to_midi(path)))


KICK, CRASH = DRUM_CLASSES.index("kick"), DRUM_CLASSES.index("crash")


def test_the_models_answer_to_a_file_keeps_its_notes_where_it_keeps_the_cells():
    """A reconstruction of the drum-machine loop: the backbeat cell on 2 (side-stick, its flam's grace 38, cowbell)
    kept, played earlier and softer; the kick on 3 of bar 1 left out; a crash and a snare added. Kept cells keep
    every note's pitch, the grace note moves with its main note and keeps its share of the velocity; new notes take
    the file's pitch for the drum (the crash, which it lacks, General MIDI's)."""
    record = NoteRecord.from_midi(drum_machine_loop(), "loop.mid")
    view = record.groove()
    hits, velocities, offsets = view.hits.copy(), view.velocities.copy(), view.offsets.copy()
    velocities[4, SNARE], offsets[4, SNARE] = 96 / 127, 0.4  # 0.2 of a step early
    hits[8, KICK] = velocities[8, KICK] = 0
    hits[0, CRASH], velocities[0, CRASH] = 1, 80 / 127
    hits[3, SNARE], velocities[3, SNARE], offsets[3, SNARE] = 1, 50 / 127, -0.5
    answer = Groove(hits, velocities, offsets, view.bpm, "answer")

    answered = record.answered(answer)
    again = answered.groove()
    np.testing.assert_array_equal(again.hits, answer.hits)  # read back, the file gives the answer's view
    np.testing.assert_allclose(again.velocities, answer.velocities, atol=0.5 / 127)
    np.testing.assert_allclose(again.offsets, answer.offsets, atol=2 / STEP)
    by_cell = {cell: sorted((answered.notes[i].pitch, answered.notes[i].tick, answered.notes[i].velocity)
                            for i in indices) for cell, indices in answered.cells().items()}
    grace = round(0.020 * 100 / 60 * TPB)
    early = 4 * STEP - round(0.2 * STEP)
    assert by_cell[(4, SNARE)] == [(37, early, 96), (38, early - grace, round(45 * 96 / 120)),
                                   (56, early, round(70 * 96 / 120))]
    assert [pitch for pitch, _, _ in by_cell[(20, SNARE)]] == [37, 38, 39, 56]  # untouched cells keep every note
    assert by_cell[(0, CRASH)] == [(49, 0, 80)]
    assert by_cell[(3, SNARE)] == [(record.main_pitches()[SNARE], 3 * STEP + STEP // 4, 50)]
    assert (8, KICK) not in by_cell and len(answered.notes) == len(record.notes) - 1 + 2
    assert track_lengths(answered.to_midi()) == [2 * 4 * TPB] * 2


def test_a_file_answered_with_its_own_view_comes_back_note_for_note():
    record = NoteRecord.from_midi(drum_machine_loop(), "loop.mid")
    answered = record.answered(record.groove())
    assert sorted(read_back(answered.to_midi())) == sorted(read_back(record.to_midi()))


def test_an_answer_longer_than_the_file_ends_on_its_own_last_bar():
    record = NoteRecord.from_midi(drum_file([(0, 36, 100), (4 * STEP, 37, 90)], bars=1), "one bar.mid")
    view = record.groove()
    hits = np.zeros((32, 9), np.float32)
    hits[:16] = view.hits
    answer = Groove(hits, hits * 0.7, np.zeros_like(hits), view.bpm, "longer")
    answered = record.answered(answer)
    assert answered.bars == 2 and track_lengths(answered.to_midi()) == [2 * 4 * TPB] * 2
    assert sorted((n.tick, n.pitch) for n in answered.notes) == [(0, 36), (4 * STEP, 37)]
