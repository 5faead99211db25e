"""What the commands share: reading files and folders of MIDI, writing grooves, reporting."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from explorer.errors import ExplorerError
from explorer.model import checkpoints
from explorer.notes.midi_write import groove_to_midi
from explorer.notes.record import NoteRecord

CHECKPOINT_HELP = "registry name or folder (default: the shipped one)"


def cannot_write(path: Path, error: OSError) -> int:
    """A write that failed (a read-only folder, a full disk), said in one line; the exit code of a refused command."""
    print(f"error: cannot write '{path}': {error.strerror or error}", file=sys.stderr)
    return 2


def print_json_or_text(data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    for key, value in data.items():
        print(f"{key}: {value}")


def write_grooves(grooves, directory: Path, bpm: float | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, groove in enumerate(grooves):
        path = directory / f"{index:03d}.mid"
        path.write_bytes(groove_to_midi(groove, bpm))
        paths.append(path)
    return paths


def file_pairs(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input, output) MIDI paths of a file → file or folder → folder command; none, with the reason printed, for
    a folder without MIDI files or a path that does not exist."""
    if source.is_dir():
        pairs = [(path, out / path.name) for path in sorted(source.iterdir())
                 if path.suffix.lower() in (".mid", ".midi")]
        if not pairs:
            print(f"error: '{source}' holds no .mid file.", file=sys.stderr)
        return pairs
    if source.is_file():
        return [(source, out)]
    print(f"error: '{source}' does not exist.", file=sys.stderr)
    return []


def prepared_files(args, options_of):
    """(file pairs, options_of(), the checkpoint's model) of a file → file command, or None with the reason
    printed (no input, a bad option, a checkpoint that cannot be loaded)."""

    pairs = file_pairs(args.input, args.out)
    if not pairs:
        return None
    try:
        return pairs, options_of(), checkpoints.load_model(args.checkpoint)
    except (ValueError, ExplorerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def file_groove(data: bytes, name: str):
    """A file as a groove with its notes behind it (the musician's record), for the commands that keep them."""

    return NoteRecord.from_midi(data, name).groove()


def write_each(pairs, read, make) -> int:
    """For each (input, output) pair: read(bytes, name) → make(…) → (groove, summary), the groove written as MIDI;
    a file that cannot be read or made is reported and skipped. Exit status 2 if any was."""

    failed = 0
    for source, target in pairs:
        try:
            groove, summary = make(read(source.read_bytes(), source.name))
        except (ExplorerError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(groove_to_midi(groove))
        print(f"{target}: {summary}")
    return 2 if failed else 0
