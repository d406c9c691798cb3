"""Count lines of PowerShell code: non-blank lines with something outside comments.

    python tools/count_loc.py [FILE_OR_FOLDER ...]   (standard library only)

Comments are `# ...` to the end of the line and `<# ... #>` blocks, which is also what
comment-based help is. Text inside strings and here-strings is code, so a `#` or `<#` inside
quotes does not start a comment. Without arguments it counts Private/ and PrefectWin.psm1 of
this repository, the figure issue 10 budgets. Prints one line per file, then the total.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def code_lines(text: str) -> int:
    """How many lines of `text` hold code, by the definition above."""
    counted: set[int] = set()
    line, i, n = 0, 0, len(text)
    state = "code"  # code | comment (block) | single | double | here-single | here-double
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
            continue
        if state == "comment":
            if text.startswith("#>", i):
                state, i = "code", i + 2
            else:
                i += 1
            continue
        if state in ("here-single", "here-double"):
            counted.add(line)
            end = "'@" if state == "here-single" else '"@'
            at_line_start = i == 0 or text.rfind("\n", 0, i) == i - 1 or text[text.rfind("\n", 0, i) + 1 : i].strip() == ""
            if at_line_start and text.startswith(end, i):
                state, i = "code", i + 2
            else:
                i += 1
            continue
        if state == "single":
            counted.add(line)
            if ch == "'" and text.startswith("''", i):
                i += 2
            elif ch == "'":
                state, i = "code", i + 1
            else:
                i += 1
            continue
        if state == "double":
            counted.add(line)
            if ch == "`":
                i += 2
            elif ch == '"':
                state, i = "code", i + 1
            else:
                i += 1
            continue
        # state == "code"
        if text.startswith("<#", i):
            state, i = "comment", i + 2
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch.isspace():
            i += 1
        else:
            counted.add(line)
            if text.startswith("@'", i) or text.startswith('@"', i):
                state = "here-single" if text[i + 1] == "'" else "here-double"
                end = text.find("\n", i)
                i = n if end < 0 else end
            elif ch == "'":
                state, i = "single", i + 1
            elif ch == '"':
                state, i = "double", i + 1
            elif ch == "`":
                i += 2
            else:
                i += 1
    return len(counted)


def files_of(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".ps1", ".psm1")))
        else:
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.paths or [REPO / "Private", REPO / "PrefectWin.psm1"]
    total = 0
    for path in files_of(paths):
        count = code_lines(path.read_text(encoding="utf-8-sig"))
        total += count
        try:
            shown = path.resolve().relative_to(REPO)
        except ValueError:
            shown = path
        print(f"{count:6d}  {shown}")
    print(f"{total:6d}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
