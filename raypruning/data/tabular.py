"""Generic csv / jsonl / parquet files mapped to a task by the DataConfig columns.

``data.path`` is a folder holding one file per split: ``train.<ext>``, one of
``validation|dev|eval.<ext>`` ("validation") and optionally ``test.<ext>``
(ext: csv, or tsv for tab-separated; jsonl or json for JSON Lines; parquet).
A file given as ``data.path`` stands for its folder (its extension picks
csv vs tsv). A test file without the label column is skipped (an unlabeled
test set cannot be scored).

Columns: ``data.text_column``, optional ``data.text_pair_column`` (pair
task), ``data.label_column``, and either ``data.regression`` (the label is a
number) or ``data.slots_column`` (space-separated BIO tags, one per
whitespace word of the text, or a list of tags: a joint intent + slot task).
Errors name ``<file>:<n>`` with n the line (csv: the line a row ends on;
jsonl) or the 1-based row (parquet, hub datasets). `hub.py` maps hub and
saved datasets through the same `to_task_data`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from raypruning.config import DataConfig
from raypruning.data._io import bad, read_jsonl, read_text, reason, require_file
from raypruning.data.labels import build_task_data
from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION, TaskData
from raypruning.errors import InputError

EXTENSIONS = {"csv": (".csv", ".tsv"), "jsonl": (".jsonl", ".json"), "parquet": (".parquet",)}
SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "dev", "eval"), "test": ("test",)}


@dataclass
class Table:
    """The wanted columns of one split; a column absent from the source is absent here."""
    source: str  # file (or dataset[split]) named in errors
    columns: dict[str, list]
    lines: list[int] | None = None  # line of each row; None: 1-based row numbers


def load(data: DataConfig) -> TaskData:
    folder, extensions = _folder(Path(data.path), data.format)
    names = list(wanted_columns(data).values())
    tables = {}
    for split, stems in SPLIT_STEMS.items():
        found = [folder / f"{s}{e}" for s in stems for e in extensions if (folder / f"{s}{e}").is_file()]
        if len(found) > 1:
            raise bad(folder, f"several {split} files ({', '.join(p.name for p in found)}); keep one")
        if not found:
            if split == "test":
                continue
            raise bad(folder / f"{stems[0]}{extensions[0]}", f"no such file (the {split} split)")
        tables[split] = read_table(found[0], names)
    return to_task_data(tables, data, task_name=folder.resolve().name)


def _folder(path: Path, fmt: str) -> tuple[Path, tuple[str, ...]]:
    if path.is_dir():
        return path, EXTENSIONS[fmt]
    require_file(path)
    if path.suffix not in EXTENSIONS[fmt]:
        raise bad(path, f"format {fmt!r} expects a {' or '.join(EXTENSIONS[fmt])} file")
    return path.parent, (path.suffix,)


def wanted_columns(data: DataConfig) -> dict[str, str]:
    """Schema column -> source column name, for the columns this config reads."""
    if data.regression and data.slots_column:
        raise InputError("data: data.regression and data.slots_column cannot both be set")
    out = {"text": data.text_column, "label": data.label_column}
    if data.text_pair_column:
        out["text_pair"] = data.text_pair_column
    if data.slots_column:
        out["slots"] = data.slots_column
    return out


def read_table(path: Path, names: list[str]) -> Table:
    """Read the named columns of a csv/tsv, jsonl or parquet file."""
    if path.suffix in (".csv", ".tsv"):
        rows, lines, header = _read_csv(path)
        return Table(str(path), {n: [r.get(n) for r in rows] for n in names if n in header}, lines)
    if path.suffix in (".jsonl", ".json"):
        rows = read_jsonl(path)
        present = {k for _, r in rows for k in r}
        return Table(str(path), {n: [r.get(n) for _, r in rows] for n in names if n in present},
                     [line for line, _ in rows])
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(require_file(path), columns=None)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise bad(path, f"not a readable parquet file ({reason(exc)})") from None
    if table.num_rows == 0:
        raise bad(path, "empty file")
    return Table(str(path), {n: table.column(n).to_pylist() for n in names if n in table.column_names})


def _read_csv(path: Path) -> tuple[list[dict], list[int], list[str]]:
    """Rows, the line each row ends on, and the header of a csv/tsv file.

    Strict quoting: a quote left open would otherwise swallow the rest of the
    file into one field. A malformed row is named by the line it starts on.
    """
    reader = csv.DictReader(io.StringIO(read_text(path)), delimiter="\t" if path.suffix == ".tsv" else ",",
                            strict=True)
    rows, lines, start = [], [], 1  # start: the line the next row starts on
    try:
        header = list(reader.fieldnames or [])
        start = reader.line_num + 1
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
            start = reader.line_num + 1
    except csv.Error as exc:
        problem = reason(exc)
        if problem.startswith(("unexpected end of data", "field larger than field limit")):
            problem = f"a quoted field opens on this line and never closes ({problem})"
        raise bad(path, f"not valid CSV: {problem}", start) from None
    return rows, lines, header


def to_task_data(tables: dict[str, Table], data: DataConfig, task_name: str) -> TaskData:
    """Map the tables of train, validation and (optional) test to a TaskData."""
    wanted = wanted_columns(data)
    kind = REGRESSION if data.regression else JOINT if data.slots_column else CLASSIFICATION
    raw = {}
    for split, table in tables.items():
        if split == "test" and data.label_column not in table.columns:
            continue  # unlabeled test set
        for key, name in wanted.items():
            if name not in table.columns:
                raise bad(table.source, f"missing column {name!r} (set data.{key}_column)")
        raw[split] = _map_rows(table, wanted, kind)
    return build_task_data(kind, raw, task_name=task_name, has_pair="text_pair" in wanted)


def _map_rows(table: Table, wanted: dict[str, str], kind: str) -> dict[str, list]:
    cols: dict[str, list] = {key: [] for key in wanted} | ({"words": []} if kind == JOINT else {})
    n = len(table.columns[wanted["text"]])
    if n == 0:
        raise bad(table.source, "no rows")
    for i in range(n):
        line = table.lines[i] if table.lines else i + 1

        def value(key):
            v = table.columns[wanted[key]][i]
            if v is None or (isinstance(v, str) and not v.strip() and key != "text_pair"):
                raise bad(table.source, f"missing value for column {wanted[key]!r}", line)
            return v

        for key in ("text", "text_pair"):
            if key in wanted:
                v = value(key)
                if not isinstance(v, str):
                    raise bad(table.source, f"column {wanted[key]!r} must hold text, got {v!r}", line)
                cols[key].append(v.strip())
        cols["label"].append(_label(value("label"), kind, table.source, line, wanted["label"]))
        if kind == JOINT:
            words, tags = cols["text"][-1].split(), value("slots")
            tags = tags.split() if isinstance(tags, str) else [str(t) for t in tags]
            if len(tags) != len(words):
                raise bad(table.source, f"{len(tags)} slot tags for {len(words)} words", line)
            cols["words"].append(words)
            cols["slots"].append(tags)
    return cols


def _label(v, kind: str, source: str, line: int, column: str) -> str | float:
    if kind == REGRESSION:
        try:
            if isinstance(v, bool):
                raise ValueError
            return float(v)
        except (TypeError, ValueError):
            raise bad(source, f"label {v!r} in column {column!r} is not a number", line) from None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, (dict, list)):
        raise bad(source, f"label {v!r} in column {column!r} is not a single value", line)
    return str(v).strip()
