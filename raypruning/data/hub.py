"""Datasets from the Hugging Face hub, or saved with ``DatasetDict.save_to_disk``.

``data.path`` set: `datasets.load_from_disk` on that folder; otherwise
``datasets.load_dataset(data.name, data.task)`` (needs network access or a
filled cache). The columns are then mapped exactly as for csv/jsonl/parquet
(`raypruning.data.tabular.to_task_data`); a ClassLabel column contributes its
class names. Splits named train, validation/dev/eval/valid and test are used,
others ignored; a test split whose labels are all missing (-1) is skipped.
Task name: the hub id, or the saved folder's name.
"""

from __future__ import annotations

from pathlib import Path

from raypruning.config import DataConfig
from raypruning.data._io import SPLIT_ALIASES, bad, reason, require_dir
from raypruning.data.schema import TaskData
from raypruning.data.tabular import Table, to_task_data, wanted_columns
from raypruning.errors import InputError


def load(data: DataConfig) -> TaskData:
    import datasets

    if data.path:
        source, task_name = str(data.path), Path(data.path).resolve().name
        try:
            dd = datasets.load_from_disk(str(require_dir(Path(data.path))))
        except Exception as exc:  # datasets raises FileNotFoundError or others for a foreign folder
            raise bad(source, f"not a dataset saved with save_to_disk ({reason(exc)})") from None
    else:
        source, task_name = data.name + (f"/{data.task}" if data.task else ""), data.name
        try:
            dd = datasets.load_dataset(data.name, data.task)
        except Exception as exc:  # network, cache and hub errors all mean: cannot get the data this way
            raise InputError(f"{source}: cannot load from the hub ({reason(exc)})") from None
    if not isinstance(dd, datasets.DatasetDict):
        raise InputError(f"{source}: a single Dataset; save a DatasetDict with train and validation splits")
    names = list(wanted_columns(data).values())
    tables: dict[str, Table] = {}
    for hub_split, ds in dd.items():
        split = SPLIT_ALIASES.get(hub_split.lower())
        if split is None:
            continue
        if split in tables:
            raise InputError(f"{source}: two splits map to {split!r} ({tables[split].source}, {hub_split})")
        present = [n for n in dict.fromkeys(names) if n in ds.column_names]
        values = ds.select_columns(present)[:]  # dict of lists, fast (iterating a Column goes row by row)
        tables[split] = Table(f"{source}[{hub_split}]", {n: _names(ds.features[n], values[n]) for n in present})
    for split in ("train", "validation"):
        if split not in tables:
            raise InputError(f"{source}: no {split} split (has: {', '.join(dd) or 'none'})")
    test = tables.get("test")
    if test and all(v is None for v in test.columns.get(data.label_column, [None])):
        del tables["test"]
    return to_task_data(tables, data, task_name=task_name)


def _names(feature, values: list) -> list:
    """ClassLabel ints become class names (-1, no label, becomes None); other values stay."""
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return [feature.int2str(v) if v is not None and v >= 0 else None for v in values]
    return values
