"""The package's shape (docs/ARCHITECTURE.md): no module over 500 lines, a docstring for every package and module of
explorer/, and nothing left in the package's top level but its two leaves. Who may import whom is the import-linter
contract of pyproject.toml, which `make test` checks before this suite."""

from __future__ import annotations

import ast
import subprocess

import pytest

from explorer.files import PROJECT_DIR

MAX_LINES = 500
TOP_LEVEL = {"__init__.py", "__main__.py", "errors.py", "files.py"}


def tracked_python() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=PROJECT_DIR, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip(f"needs the project's git checkout to list its files: {listed.stderr.strip()}")
    return listed.stdout.split()


def test_no_module_is_over_500_lines():
    long = {path: lines for path in tracked_python()
            if (lines := len((PROJECT_DIR / path).read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_every_module_of_the_package_says_what_it_is():
    silent = [str(path.relative_to(PROJECT_DIR)) for path in (PROJECT_DIR / "explorer").rglob("*.py")
              if path.name != "__main__.py" and not ast.get_docstring(ast.parse(path.read_text()))]
    assert not silent, f"modules without a docstring: {silent}"


def test_the_top_level_holds_only_the_leaves_every_package_uses():
    top = {path.name for path in (PROJECT_DIR / "explorer").glob("*.py")}
    assert top == TOP_LEVEL, f"put {sorted(top - TOP_LEVEL)} in the package of its concept"
