"""Writing one section of docs/BENCHMARKS.md, leaving the other sections as they are."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from explorer.model.precision import cpu_description

DOC = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"


def machine() -> str:
    """The machine a report ran on: figures from CPUs with and without AVX-512, AVX512-BF16 or AMX differ."""
    return f"{platform.machine()}, {os.cpu_count()} cores of {cpu_description()}"


def write_section(title: str, lines: list[str], path: Path = DOC) -> None:
    """Replace (or append) the section `## {title}` with `lines`."""
    heading = f"## {title}"
    text = "\n".join([heading, "", *lines]).rstrip("\n") + "\n"
    document = path.read_text() if path.is_file() else "# Benchmarks\n"
    if heading in document:
        start = document.index(heading)
        following = document.find("\n## ", start + len(heading))
        document = document[:start] + text + (document[following:] if following >= 0 else "")
    else:
        document = document.rstrip("\n") + "\n\n" + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)


def publish(title: str, lines: list[str], write: bool, path: Path = DOC) -> None:
    """Print a bench's section, and with `write` put it in its document."""
    print("\n".join(lines))
    if write:
        write_section(title, lines, path)
