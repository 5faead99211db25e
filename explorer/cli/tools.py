"""`humanize`, `drumify`, `continue` and `infill`: the tools, on a MIDI file or a folder of them."""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.cli.common import CHECKPOINT_HELP, file_groove, file_pairs, prepared_files, write_each
from explorer.errors import ExplorerError
from explorer.model import checkpoints
from explorer.model.checkpoints import DRUMIFY_CHECKPOINT
from explorer.notes.drums import DRUM_CLASSES
from explorer.notes.midi_read import midi_to_performance
from explorer.notes.record import NoteRecord
from explorer.tools import humanize
from explorer.tools.continuation import (
    FILL_EVERY_CHOICES,
    FILL_SOURCES,
    ContinueOptions,
    continue_groove,
    fill_bars,
    gmd_fills,
)
from explorer.tools.drumify import DEFAULT_TEMPERATURE, DrumifyOptions, drumify, taps_from_midi
from explorer.tools.infill import InfillOptions, infill


def cmd_humanize(args) -> int:
    pairs = file_pairs(args.input, args.out)
    if not pairs:
        return 2
    try:
        options = humanize.HumanizeOptions(temperature=args.temperature, seed=args.seed, amount=args.amount,
                                           keep_velocities=args.keep_velocities, keep_timing=args.keep_timing,
                                           untouched=tuple(args.untouched), feel_weight=args.feel_weight,
                                           drummer_levels=args.drummer_levels)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = checkpoints.load_model(args.checkpoint)
    feel = midi_to_performance(args.feel).groove if args.feel else None
    direction = humanize.direction_for(model)
    if direction is None:
        print("note: the Groove MIDI Dataset is not here, so the beats' own feel is not moved towards real "
              "playing (see docs/HUMANIZE.md).", file=sys.stderr)
    failed = 0
    for source, target in pairs:
        try:
            record = NoteRecord.from_midi(source.read_bytes(), source.name)
            played, notes = humanize.humanize_record(model, record, feel, options, direction)
        except (ExplorerError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(notes.to_midi())
        print(f"{target}: {len(notes.notes)} notes, {played.bars:g} bars at {played.bpm:g} bpm")
    return 2 if failed else 0


def cmd_drumify(args) -> int:
    prepared = prepared_files(args, lambda: DrumifyOptions(temperature=args.temperature, seed=args.seed,
                                                           strict=not args.free,
                                                           keep_velocity=not args.ignore_velocity))
    if prepared is None:
        return 2
    pairs, options, model = prepared

    def make(taps):
        groove = drumify(model, taps, options=options)[0]
        return groove, (f"{int(groove.hits.sum())} hits on {int(taps.hits.sum())} taps, {groove.bars:g} bars at "
                        f"{groove.bpm:g} bpm")

    return write_each(pairs, taps_from_midi, make)


def cmd_continue(args) -> int:
    prepared = prepared_files(args, lambda: ContinueOptions(temperature=args.temperature, seed=args.seed,
                                                            fill_every=args.fill_every, variation=args.variation,
                                                            fill_source=args.fills))
    if prepared is None:
        return 2
    pairs, options, model = prepared
    fills = gmd_fills() if options.fill_every else None
    if options.fill_every and fills is None:
        print("note: the Groove MIDI Dataset is not here, so fill bars are played as any other bar (only the crash "
              "after them marks them).", file=sys.stderr)

    def make(groove):
        song = continue_groove(model, groove, args.bars, options, fills)
        where = [b + 1 for b in fill_bars(int(groove.bars), args.bars, options.fill_every)]
        return song, (f"{int(groove.bars)} bars as played, continued to {args.bars} at {song.bpm:g} bpm"
                      + (f"; fills in bars {', '.join(map(str, where))}" if where else ""))

    return write_each(pairs, file_groove, make)


def cmd_infill(args) -> int:
    prepared = prepared_files(args, lambda: InfillOptions(temperature=args.temperature, seed=args.seed))
    if prepared is None:
        return 2
    pairs, options, model = prepared

    def make(groove):
        written = infill(model, groove, args.drums, options)[0]
        return written, f"{', '.join(args.drums)} written new, every other note as it was"

    return write_each(pairs, file_groove, make)


def add_commands(commands) -> None:
    humanize_command = commands.add_parser("humanize",
                                           help="play programmed beats with a drummer's dynamics and timing")
    humanize_command.add_argument("input", type=Path, metavar="IN", help="a MIDI file, or a folder of them")
    humanize_command.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    humanize_command.add_argument("--feel", type=Path, metavar="SEED.mid", help="play with this groove's feel")
    humanize_command.add_argument("--feel-weight", type=float, default=1.0,
                                  help="with --feel: 0 = the beat's own feel … 1 = the feel groove's (default)")
    humanize_command.add_argument("--temperature", type=float, default=0.5,
                                  help="how loosely to play (0: each hit's median)")
    humanize_command.add_argument("--seed", type=int, default=0)
    humanize_command.add_argument("--amount", type=float, default=1.0, help="0 = unchanged … 1 = fully humanized")
    humanize_command.add_argument("--drummer-levels", action="store_true",
                                  help="each drum at the drummer's level, not at the level it was programmed at")
    humanize_command.add_argument("--keep-velocities", action="store_true", help="timing only")
    humanize_command.add_argument("--keep-timing", action="store_true", help="dynamics only")
    humanize_command.add_argument("--untouched", nargs="*", default=[], metavar="DRUM", choices=DRUM_CLASSES,
                                  help=f"drums left as programmed ({', '.join(DRUM_CLASSES)})")
    humanize_command.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    humanize_command.set_defaults(run=cmd_humanize)

    drumify_command = commands.add_parser("drumify",
                                          help="turn tapped rhythms (any pitch, any channel) into drum grooves")
    drumify_command.add_argument("input", type=Path, metavar="IN", help="a MIDI file of taps, or a folder of them")
    drumify_command.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    drumify_command.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE,
                                 help="how freely to play (default 0: the most likely groove)")
    drumify_command.add_argument("--seed", type=int, default=0)
    drumify_command.add_argument("--free", action="store_true", help="let the model add ghost notes and cymbals "
                                                                      "between the taps (default: strictly on them)")
    drumify_command.add_argument("--ignore-velocity", action="store_true", help="every tap counts the same")
    drumify_command.set_defaults(run=cmd_drumify)

    song = commands.add_parser("continue", help="continue a groove to 8-64 bars, with fills")
    song.add_argument("input", type=Path, metavar="IN", help="a MIDI file, or a folder of them")
    song.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    song.add_argument("--bars", type=int, required=True, help="the song's length in bars (IN's own come first)")
    song.add_argument("--fill-every", type=int, default=4, choices=FILL_EVERY_CHOICES,
                      help="a fill in the last bar of every K bars (0: none; default 4)")
    song.add_argument("--fills", choices=FILL_SOURCES, default=FILL_SOURCES[0],
                      help="where fills come from: the model (default) or GMD's drummers' own")
    song.add_argument("--variation", type=float, default=0.5, help="0 = loop IN … 1 = keep developing")
    song.add_argument("--temperature", type=float, default=ContinueOptions.temperature)
    song.add_argument("--seed", type=int, default=0)
    song.set_defaults(run=cmd_continue)

    infill_command = commands.add_parser("infill", help="write one or more drums of a beat new, every other note kept")
    infill_command.add_argument("input", type=Path, metavar="IN", help="a MIDI file, or a folder of them")
    infill_command.add_argument("--out", type=Path, required=True, help="a MIDI file, or a folder (for a folder IN)")
    infill_command.add_argument("--drums", nargs="+", required=True, metavar="DRUM", choices=DRUM_CLASSES,
                                help=f"the drums to write ({', '.join(DRUM_CLASSES)})")
    infill_command.add_argument("--temperature", type=float, default=0.0)
    infill_command.add_argument("--seed", type=int, default=0)
    infill_command.set_defaults(run=cmd_infill)

    for command in (drumify_command, song, infill_command):  # the multi-task model's tools
        command.add_argument("--checkpoint", default=DRUMIFY_CHECKPOINT,
                             help=f"a multi-task checkpoint (default: {DRUMIFY_CHECKPOINT})")
