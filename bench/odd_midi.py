"""Hostile and odd MIDI files, built byte by byte: the inputs of `bench.fuzz_midi` and tests/system/test_fuzz.py.

Each generator takes a NumPy random generator and the bytes of a few real files to mutate (GMD performances) and
returns one file's bytes; `CATEGORIES` names them with their share of a fuzz run. Structured generators take
keyword arguments too, so a test can ask for one exact case (`odd_meter(rng, bases, meters=((3, 4),))`).
`generate(seed, index, bases)` rebuilds any input of a run from its seed and index.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import numpy as np

from explorer.notes.drums import DRUM_CHANNEL
from explorer.notes.midi_read import DEFAULT_LIMITS

TPB = 480
STEP = TPB // 4  # a 16th note
END = b"\x00\xff\x2f\x00"  # end of track
# A General MIDI kit: acoustic and electric kicks, snares, clap, side stick, hats, six toms, crashes, rides, china,
# splash, tambourine, cowbell — far wider than the Roland TD-11 of GMD.
GM_KIT = (35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 59)
Bases = Sequence[bytes]
Generator = Callable[..., bytes]


# --- building blocks -----------------------------------------------------------------------------------------------


def variable_int(value: int) -> bytes:
    """MIDI's variable-length quantity: 7 bits a byte, high bit set on all but the last."""
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def chunk(name: bytes, body: bytes) -> bytes:
    return name + struct.pack(">I", len(body)) + body


def smf(*tracks: bytes, midi_type: int = 1, division: int = TPB, track_count: int | None = None) -> bytes:
    """A Standard MIDI File of track bodies (events, END included); the header may lie about the track count."""
    count = len(tracks) if track_count is None else track_count
    return chunk(b"MThd", struct.pack(">HHH", midi_type, count, division)) + b"".join(chunk(b"MTrk", t) for t in tracks)


def meta(kind: int, payload: bytes, delta: int = 0) -> bytes:
    return variable_int(delta) + bytes([0xFF, kind]) + variable_int(len(payload)) + payload


def tempo_event(microseconds: int, delta: int = 0) -> bytes:
    return meta(0x51, microseconds.to_bytes(3, "big"), delta)


def meter_event(numerator: int, denominator: int, delta: int = 0) -> bytes:
    return meta(0x58, bytes([numerator, denominator.bit_length() - 1, 24, 8]), delta)


def microseconds(bpm: float) -> int:
    return round(60_000_000 / bpm)


Hit = tuple[int, int, int, int]  # (tick, pitch, velocity, channel)


def track(hits: Sequence[Hit], length: int = STEP // 2, running: bool = False, head: bytes = b"") -> bytes:
    """A track body of note-on/note-off pairs (`length` ticks long) after `head`, optionally in running status
    (note-offs as note-ons at velocity 0, one status byte per channel change)."""
    events = sorted([(tick, 1, pitch, velocity, channel) for tick, pitch, velocity, channel in hits]
                    + [(tick + length, 0, pitch, 0, channel) for tick, pitch, _, channel in hits])
    body, previous, status = bytearray(head), 0, None
    for tick, on, pitch, velocity, channel in events:
        body += variable_int(tick - previous)
        previous = tick
        now = (0x90 if on or running else 0x80) | channel
        if now != status or not running:
            body.append(now)
        status = now
        body += bytes([pitch, velocity])
    return bytes(body) + END


def drum_hits(rng: np.random.Generator, bars: int, pitches: Sequence[int] = GM_KIT, density: float = 0.25,
              swing_ticks: int = 20, channel: int = DRUM_CHANNEL) -> list[Hit]:
    """Random 16th-note hits on `pitches`, pushed and pulled by up to `swing_ticks`, always a kick on beat one."""
    hits = [(0, 36, 100, channel)]
    for step in range(bars * 16):
        for pitch in pitches:
            if rng.random() < density / len(pitches) * 4:
                tick = max(0, step * STEP + int(rng.integers(-swing_ticks, swing_ticks + 1)))
                hits.append((tick, int(pitch), int(rng.integers(1, 128)), channel))
    return hits


def groove_file(rng: np.random.Generator, bpm: float | None = None, bars: int | None = None,
                pitches: Sequence[int] = GM_KIT, meters: Sequence[tuple[int, int]] = ((4, 4),),
                division: int = TPB, running: bool = False, midi_type: int = 0) -> bytes:
    """A playable drum groove on channel 10: one tempo, the given meters (one per 2 bars), drums from `pitches`."""
    bpm = float(rng.uniform(60, 200)) if bpm is None else bpm
    bars = int(rng.integers(1, 17)) if bars is None else bars
    scale = division / TPB
    hits = [(round(tick * scale), pitch, velocity, channel)
            for tick, pitch, velocity, channel in drum_hits(rng, bars, pitches)]
    head = tempo_event(microseconds(bpm)) + b"".join(
        meter_event(n, d, 0 if i == 0 else round(2 * 4 * TPB * scale)) for i, (n, d) in enumerate(meters))
    if len(meters) > 1:  # meter changes carry their own delta: put the notes on a second track
        return smf(head + END, track(hits, running=running), midi_type=1, division=division)
    return smf(track(hits, running=running, head=head), midi_type=midi_type, division=division)


# --- structured generators: one odd thing each ---------------------------------------------------------------------


def valid_groove(rng: np.random.Generator, bases: Bases) -> bytes:
    """A plain, acceptable groove at a random tempo and resolution: the control group."""
    return groove_file(rng, bpm=float(rng.uniform(20, 400)), division=int(rng.choice([96, 192, 480, 960])))


def real_file(rng: np.random.Generator, bases: Bases) -> bytes:
    return bases[int(rng.integers(len(bases)))]


def random_bytes(rng: np.random.Generator, bases: Bases) -> bytes:
    return rng.bytes(int(rng.integers(0, 4096)))


def random_after_header(rng: np.random.Generator, bases: Bases) -> bytes:
    """A sound header and a track chunk of random bytes."""
    body = rng.bytes(int(rng.integers(0, 2048)))
    return smf(body, midi_type=int(rng.integers(0, 2)), division=int(rng.choice([96, 480, 960])))


def huge_delta(rng: np.random.Generator, bases: Bases, delta: int | None = None) -> bytes:
    """A groove whose last note comes after a delta time of minutes to days (up to MIDI's 0x0FFFFFFF ticks)."""
    delta = int(rng.integers(10_000, 0x0FFFFFFF)) if delta is None else delta
    late = variable_int(delta) + bytes([0x99, 38, 90]) + variable_int(60) + bytes([0x89, 38, 0])
    body = track(drum_hits(rng, 2), head=tempo_event(microseconds(120)))
    return smf(body[:-len(END)] + late + END, midi_type=0)


def running_status_abuse(rng: np.random.Generator, bases: Bases) -> bytes:
    """Running status where it is legal (a groove written with it) and where it is not (first event, after meta
    or sysex, with a data byte over 127)."""
    good = track(drum_hits(rng, 2), running=True, head=tempo_event(microseconds(100)))
    insert_at = int(rng.integers(0, len(good) - len(END)))
    abuse = [b"\x00\x24\x64", b"\x00\xff\x01\x00\x24\x64", b"\x00\xf0\x01\xf7\x00\x24\x64", b"\x00\x99\x24\xe4",
             b"\x00\x24"]
    choice = int(rng.integers(len(abuse) + 1))
    body = good if choice == len(abuse) else good[:insert_at] + abuse[choice] + good[insert_at:]
    return smf(body, midi_type=0)


def zero_tracks(rng: np.random.Generator, bases: Bases) -> bytes:
    return smf(midi_type=int(rng.integers(0, 2)))


def many_tracks(rng: np.random.Generator, bases: Bases, count: int | None = None) -> bytes:
    """One drum track among `count` tracks (default: 2 to 1,000), the rest empty or holding a bass line."""
    count = int(rng.choice([2, 16, 64, 255, 256, 257, 1000])) if count is None else count
    drums = track(drum_hits(rng, 4), head=tempo_event(microseconds(110)) + meter_event(4, 4))
    others = [END if i % 2 else track([(i * STEP, 40, 80, 1)]) for i in range(count - 1)]
    return smf(drums, *others)


ABSURD_TEMPOS = (0, 1, 60_000_000 // 1000, microseconds(400.5), microseconds(400), microseconds(20),
                 microseconds(19.9), 0xFFFFFF)  # µs per quarter: 0, 60 M bpm, 1000 bpm, …, 3.6 bpm (the slowest)


def absurd_tempo(rng: np.random.Generator, bases: Bases, tempos: Sequence[int] | None = None) -> bytes:
    """One or more tempo events (µs per quarter), the first at the start."""
    if tempos is None:
        tempos = [int(rng.choice(ABSURD_TEMPOS)) for _ in range(int(rng.integers(1, 3)))]
    head = b"".join(tempo_event(t, 0 if i == 0 else 4 * TPB) for i, t in enumerate(tempos))
    return smf(track(drum_hits(rng, 2), head=head), midi_type=0)


def smpte(rng: np.random.Generator, bases: Bases) -> bytes:
    """Frame-based timing: -24, -25, -29 or -30 frames a second, 4 to 80 ticks a frame."""
    division = ((256 - int(rng.choice([24, 25, 29, 30]))) << 8) | int(rng.choice([4, 8, 40, 80]))
    return groove_file(rng, division=division)


def format_2(rng: np.random.Generator, bases: Bases) -> bytes:
    return smf(track(drum_hits(rng, 2)), track(drum_hits(rng, 2)), midi_type=2)


def no_drums(rng: np.random.Generator, bases: Bases) -> bytes:
    """A piano and bass part on channels 1 and 2, or drum pitches on a channel other than 10."""
    channel = int(rng.choice([0, 1, 8, 10, 15]))
    return smf(track(drum_hits(rng, 4, channel=channel), head=tempo_event(microseconds(90))), midi_type=0)


def every_pitch(rng: np.random.Generator, bases: Bases) -> bytes:
    """All 128 pitches on channel 10, one per 16th note, in a shuffled order."""
    pitches = rng.permutation(128)
    return smf(track([(i * STEP, int(p), 100, DRUM_CHANNEL) for i, p in enumerate(pitches)],
                     head=tempo_event(microseconds(120))), midi_type=0)


def many_notes(rng: np.random.Generator, bases: Bases, count: int | None = None) -> bytes:
    """`count` kicks (default: around the limit, or 100,000) a tick apart, in running status: 6 bytes a note."""
    if count is None:
        limit = DEFAULT_LIMITS.max_notes
        count = int(rng.choice([limit - 1, limit, limit + 1, 100_000]))
    return smf(b"\x00\x99\x24\x64" + b"\x01\x24\x00\x00\x24\x64" * (count - 1) + b"\x01\x24\x00" + END, midi_type=0)


ODD_METERS = ((3, 4), (6, 8), (7, 8), (5, 4), (12, 8), (2, 2), (2, 4))


def odd_meter(rng: np.random.Generator, bases: Bases, meters: Sequence[tuple[int, int]] | None = None) -> bytes:
    """A meter other than 4/4, or a change of meter (4/4 restated counts as none)."""
    if meters is None:
        first = ODD_METERS[int(rng.integers(len(ODD_METERS)))]
        meters = [[first], [(4, 4), first], [first, (4, 4)], [(4, 4), (4, 4)]][int(rng.integers(4))]
    return groove_file(rng, bars=4, meters=meters)


def size_limit(rng: np.random.Generator, bases: Bases, size: int | None = None) -> bytes:
    """A valid groove padded to `size` bytes (default: the limit, a byte either side) by a trailing non-track chunk,
    which MIDI readers skip."""
    size = DEFAULT_LIMITS.max_bytes + int(rng.integers(-1, 2)) if size is None else size
    groove = groove_file(rng, bpm=120.0, bars=4)
    return groove + chunk(b"XTRA", bytes(size - len(groove) - 8))


def big_data(rng: np.random.Generator, bases: Bases, size: int | None = None) -> bytes:
    """A groove with system-exclusive dumps or text events summing to `size` bytes (default: near the limit)."""
    size = int(DEFAULT_LIMITS.max_data_bytes * rng.uniform(0.5, 1.5)) if size is None else size
    kind = int(rng.integers(3))
    pieces, left = [], size
    while left > 0:
        length = min(left, int(rng.integers(1, 20_000)))
        payload = bytes(rng.integers(0, 128, length, dtype=np.uint8))
        pieces.append(b"\x00\xf0" + variable_int(length) + payload if kind == 0 else meta(0x01 if kind == 1 else 0x7F,
                                                                                           payload))
        left -= length
    return smf(track(drum_hits(rng, 2), head=tempo_event(microseconds(120)) + b"".join(pieces)), midi_type=0)


def many_events(rng: np.random.Generator, bases: Bases, count: int | None = None) -> bytes:
    """A groove drowned in hi-hat pedal controller moves (as GMD records them): `count` of them, up to 300,000."""
    count = int(rng.choice([1_000, 30_000, DEFAULT_LIMITS.max_events, 300_000])) if count is None else count
    pedal = b"\x00\xb9\x04\x40" + b"\x00\x04\x41" * (count - 1)  # running status after the first
    body = track(drum_hits(rng, 2), head=tempo_event(microseconds(120)))
    return smf(pedal + body, midi_type=0)


def long_fine_timing(rng: np.random.Generator, bases: Bases) -> bytes:
    """A long groove at a high resolution: hits many millions of ticks in (pretty_midi keeps a float per tick)."""
    division = int(rng.choice([960, 3840, 32767]))
    minutes = float(rng.uniform(1, 40))
    ticks = int(minutes * 120 * division)
    late = variable_int(ticks) + bytes([0x99, 38, 90]) + variable_int(60) + bytes([0x89, 38, 0])
    body = track(drum_hits(rng, 1), head=tempo_event(microseconds(120)))
    return smf(body[:-len(END)] + late + END, midi_type=0, division=division)


def song_with_drums(rng: np.random.Generator, bases: Bases) -> bytes:
    """A multi-track song: conductor track, keys on channel 1, bass on channel 2, a General MIDI kit on 10."""
    bars = int(rng.integers(4, 33))
    conductor = tempo_event(microseconds(float(rng.uniform(70, 180)))) + meter_event(4, 4) + END
    keys = track([(bar * 4 * TPB + beat * TPB, int(p), 70, 0) for bar in range(bars) for beat in range(4)
                  for p in (60, 64, 67)], length=TPB)
    bass = track([(bar * 4 * TPB + beat * 2 * TPB, 36 + int(rng.integers(12)), 90, 1) for bar in range(bars)
                  for beat in range(2)], length=TPB)
    drums = track(drum_hits(rng, bars))
    return smf(conductor, keys, bass, drums)


# --- mutations of real files ---------------------------------------------------------------------------------------


def truncated(rng: np.random.Generator, bases: Bases) -> bytes:
    base = real_file(rng, bases)
    return base[:int(rng.integers(0, len(base)))]


def bit_flips(rng: np.random.Generator, bases: Bases) -> bytes:
    data = bytearray(real_file(rng, bases))
    for _ in range(int(rng.integers(1, 9))):
        at = int(rng.integers(0, len(data)))
        data[at] ^= 1 << int(rng.integers(8))
    return bytes(data)


def chunk_starts(data: bytes) -> list[int]:
    starts, at = [0], data.find(b"MTrk")
    while at >= 0:
        starts.append(at)
        at = data.find(b"MTrk", at + 4)
    return starts


def wrong_chunk_length(rng: np.random.Generator, bases: Bases) -> bytes:
    data = bytearray(real_file(rng, bases))
    at = int(rng.choice(chunk_starts(bytes(data))))
    true = struct.unpack(">I", data[at + 4:at + 8])[0]
    length = int(rng.choice([0, 1, 5, true - 1, true + 1, 2 * true, 2**31, 2**32 - 1, int(rng.integers(0, 2**32))]))
    data[at + 4:at + 8] = struct.pack(">I", length % 2**32)
    return bytes(data)


def header_fields(rng: np.random.Generator, bases: Bases) -> bytes:
    """A real file whose format, track count or division is replaced by a random 16-bit value."""
    data = bytearray(real_file(rng, bases))
    field = int(rng.choice([8, 10, 12]))
    data[field:field + 2] = struct.pack(">H", int(rng.integers(0, 0x10000)))
    return bytes(data)


def inserted_bytes(rng: np.random.Generator, bases: Bases) -> bytes:
    """Random bytes inserted into, or cut out of, a real file's events."""
    data = bytearray(real_file(rng, bases))
    at = int(rng.integers(22, len(data)))
    if rng.random() < 0.5:
        data[at:at] = rng.bytes(int(rng.integers(1, 9)))
    else:
        del data[at:at + int(rng.integers(1, 9))]
    return bytes(data)


def spliced(rng: np.random.Generator, bases: Bases) -> bytes:
    """The head of one real file joined to the tail of another, or a file with a chunk repeated."""
    a, b = real_file(rng, bases), real_file(rng, bases)
    if rng.random() < 0.5:
        return a[:int(rng.integers(14, len(a)))] + b[int(rng.integers(14, len(b))):]
    return a + a[14:] * int(rng.integers(1, 4))


CATEGORIES: dict[str, tuple[float, Generator]] = {  # name: (share of a run, generator)
    "valid groove": (8, valid_groove),
    "real GMD file": (3, real_file),
    "song with a drum track": (4, song_with_drums),
    "random bytes": (6, random_bytes),
    "random bytes after a header": (6, random_after_header),
    "truncated": (8, truncated),
    "bit flips": (10, bit_flips),
    "wrong chunk length": (6, wrong_chunk_length),
    "header fields": (6, header_fields),
    "inserted or cut bytes": (8, inserted_bytes),
    "spliced files": (4, spliced),
    "huge delta time": (3, huge_delta),
    "running status": (4, running_status_abuse),
    "0 tracks": (1, zero_tracks),
    "many tracks (up to 1,000)": (2, many_tracks),
    "absurd tempo": (4, absurd_tempo),
    "SMPTE timing": (2, smpte),
    "format 2": (1, format_2),
    "no drum notes": (2, no_drums),
    "every pitch": (1, every_pitch),
    "many notes (up to 100,000)": (1, many_notes),
    "many events": (1, many_events),
    "odd or changing meter": (4, odd_meter),
    "size limit ± 1 byte": (1, size_limit),
    "big sysex or meta data": (1, big_data),
    "long at fine timing": (1, long_fine_timing),
}


def generate(seed: int, index: int, bases: Bases) -> tuple[str, bytes]:
    """Input `index` of the run with `seed`: (category, bytes). Each input has its own random stream."""
    rng = np.random.default_rng([seed, index])
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[name][0] for name in names], dtype=float)
    category = names[int(rng.choice(len(names), p=shares / shares.sum()))]
    return category, CATEGORIES[category][1](rng, bases)
