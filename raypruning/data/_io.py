"""Reading data files the same way in every reader, with errors that point at them.

Every problem with a data file becomes an `InputError` with one line that
names the file, and the line when one applies: ``<file>:<line>: <problem>``
or ``<file>: <problem>``. Readers build those with `bad` and read text with
`read_lines` / `read_jsonl`, so the encoding, BOM and newline rules live here
only.
"""

from __future__ import annotations

import json
from pathlib import Path

from raypruning.errors import InputError

# Split names found in releases -> the schema's split names.
SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation",
                 "eval": "validation", "test": "test"}


def bad(path: str | Path, problem: str, line: int | None = None) -> InputError:
    """An InputError for one problem in a file (``line`` counts from 1)."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return InputError(f"{where}: {problem}")


def reason(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise bad(path, "no such file")
    return path


def require_dir(path: Path) -> Path:
    if not path.is_dir():
        raise bad(path, "no such folder" if not path.exists() else "is not a folder")
    return path


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a leading BOM dropped); an empty file is an error."""
    data = require_file(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad(path, f"not UTF-8 text (byte {exc.start})", data[: exc.start].count(b"\n") + 1) from None
    if not text.strip():
        raise bad(path, "empty file")
    return text


def read_lines(path: Path) -> list[str]:
    """Lines without their newline (LF or CRLF); a missing last newline is fine.

    Only ``\\n`` ends a line (unlike `str.splitlines`, which would also split on
    form feeds and Unicode separators that occur inside real sentences).
    """
    lines = read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON Lines file."""
    rows = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise bad(path, f"not valid JSON ({exc.msg} at column {exc.colno})", number) from None
        if not isinstance(obj, dict):
            raise bad(path, f"expected a JSON object, got {type(obj).__name__}", number)
        rows.append((number, obj))
    if not rows:
        raise bad(path, "empty file")
    return rows


def field(path: Path, line: int, row: dict, name: str, kind: type = str):
    """``row[name]`` checked for presence and type."""
    if name not in row or row[name] is None:
        raise bad(path, f"missing field '{name}'", line)
    value = row[name]
    if not isinstance(value, kind):
        raise bad(path, f"field '{name}' must be {kind.__name__}, got {value!r}", line)
    return value
