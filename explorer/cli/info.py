"""`info`, `checkpoints` and `render`: the dataset, the checkpoint registry, a groove as audio."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from explorer.audio import rendering
from explorer.audio.fluidsynth import DEFAULT_KIT, KITS
from explorer.cli.common import cannot_write, print_json_or_text
from explorer.model import checkpoints


def cmd_info(args) -> int:
    from explorer.datasets import gmd  # pandas: only for the commands that read GMD

    info = gmd.summary(gmd.load_info(), windows=gmd.load_windows())
    if not args.json:  # one readable line per count table
        info = {key: ", ".join(f"{k} {v:,}" for k, v in value.items()) if isinstance(value, dict) else value
                for key, value in info.items()}
        info["credit"] = gmd.GMD_CREDIT
    print_json_or_text(info, args.json)
    return 0


def cmd_checkpoints(args) -> int:
    rows = [{"name": info.name, "config": info.config.get("name"), "heads": info.heads,
             "sampling_prior": info.sampling_prior, "source": info.source, "test_hit_f1": info.metrics.get("hit_f1"),
             "sha256": info.sha256} for info in checkpoints.list_checkpoints()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            f1 = (f"unrefined test hit F1 {row['test_hit_f1']:.3f}" if row["test_hit_f1"]  # from mu, T = 0
                  else "not evaluated")
            print(f"{row['name']}: {row['config']}, {row['heads']} heads, samples from {row['sampling_prior']}, {f1}, "
                  f"from {row['source']}")
    return 0


def cmd_render(args) -> int:
    if not args.midi.is_file():
        print(f"error: '{args.midi}' does not exist.", file=sys.stderr)
        return 2
    choice = rendering.choose_renderer(args.renderer)
    samples = rendering.render_array(args.midi, bpm=args.bpm, loops=args.loops, renderer=args.renderer, kit=args.kit)
    try:
        args.out.write_bytes(rendering.to_wav(samples))
    except OSError as error:
        return cannot_write(args.out, error)
    print(f"{args.out}: {len(samples) / rendering.SAMPLE_RATE:.1f} s, {choice.description}")
    return 0


def add_commands(commands) -> None:
    info = commands.add_parser("info", help="summary of the Groove MIDI Dataset")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=cmd_info)

    listing = commands.add_parser("checkpoints", help="the checkpoint registry: each one's preset and heads")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=cmd_checkpoints)

    render = commands.add_parser("render", help="render a MIDI drum groove to a WAV file")
    render.add_argument("midi", type=Path, help="MIDI file (drums on channel 10)")
    render.add_argument("--out", type=Path, required=True, help="WAV file to write")
    render.add_argument("--bpm", type=float, help="tempo; default: the file's own")
    render.add_argument("--loops", type=int, default=1, help="times to play the groove back to back")
    render.add_argument("--renderer", choices=["auto", "fluidsynth", "builtin"], default="auto",
                        help="auto = FluidSynth when installed, else the built-in synth")
    render.add_argument("--kit", choices=list(KITS), default=DEFAULT_KIT,
                        help=f"FluidSynth's drum kit: {', '.join(f'{k} ({label})' for k, (label, _) in KITS.items())}")
    render.set_defaults(run=cmd_render)
