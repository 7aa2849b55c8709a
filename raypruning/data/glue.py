"""GLUE tasks from the standard download folders, or from the hub.

A task folder (named as in the GLUE download: SST-2, CoLA, MRPC, RTE, QNLI,
QQP, MNLI, STS-B, WNLI; any case, or set ``data.task``) holds ``train.tsv``
and ``dev.tsv`` (MNLI: ``dev_matched.tsv``); ``test.tsv`` is ignored because
GLUE test labels are hidden. Files are split on tabs with no quote handling
(csv.QUOTE_NONE: RTE and MRPC sentences hold stray double quotes); MRPC's
UTF-8 BOM is dropped; CoLA has no header and is read by position, the others
by header name. Texts are stripped (SST-2 sentences end with a space).
``data.path`` may also be the parent ``glue_data`` folder, with ``data.task``.
The splits are ``train`` and ``validation`` (the dev file). Since GLUE
test labels are hidden, a run that wants a held-out test set sets
``data.validation_fraction``: `raypruning.data.sources` then carves
validation out of train and the dev file becomes ``test``.

Label vocabularies are fixed per task in the order of the hub's ClassLabel
(CoLA ["0", "1"], RTE ["entailment", "not_entailment"], ...), so indices
mean the same whether the data came from files or from
``datasets.load_dataset("nyu-mll/glue", <config>)``, which is used when
``data.name`` (a task name, or the hub id "nyu-mll/glue" with ``data.task``)
is given without ``data.path``. STS-B is a regression task (float scores,
no labels). The task name is the canonical one ("SST-2", "STS-B", ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from raypruning.config import DataConfig
from raypruning.data._io import bad, read_lines, reason, require_dir
from raypruning.data.labels import build_task_data
from raypruning.data.schema import CLASSIFICATION, REGRESSION, TaskData
from raypruning.errors import InputError

HUB_ID = "nyu-mll/glue"
BINARY = ("0", "1")
NLI2 = ("entailment", "not_entailment")


@dataclass(frozen=True)
class GlueTask:
    name: str  # canonical name, also the folder name of the GLUE download
    hub: str  # config name on the hub
    text: str | int  # header name (or column index when there is no header) of the text
    pair: str | None  # header name of the second text
    label: str | int
    labels: tuple[str, ...] | None  # None: regression
    hub_text: str = "sentence1"
    hub_pair: str | None = "sentence2"
    header: bool = True
    dev: str = "dev.tsv"
    hub_dev: str = "validation"


TASKS = {t.hub: t for t in (
    GlueTask("CoLA", "cola", 3, None, 1, BINARY, hub_text="sentence", hub_pair=None, header=False),
    GlueTask("SST-2", "sst2", "sentence", None, "label", BINARY, hub_text="sentence", hub_pair=None),
    GlueTask("MRPC", "mrpc", "#1 String", "#2 String", "Quality", BINARY),
    GlueTask("QQP", "qqp", "question1", "question2", "is_duplicate", BINARY,
             hub_text="question1", hub_pair="question2"),
    GlueTask("STS-B", "stsb", "sentence1", "sentence2", "score", None),
    GlueTask("MNLI", "mnli", "sentence1", "sentence2", "gold_label", ("entailment", "neutral", "contradiction"),
             hub_text="premise", hub_pair="hypothesis", dev="dev_matched.tsv", hub_dev="validation_matched"),
    GlueTask("QNLI", "qnli", "question", "sentence", "label", NLI2, hub_text="question", hub_pair="sentence"),
    GlueTask("RTE", "rte", "sentence1", "sentence2", "label", NLI2),
    GlueTask("WNLI", "wnli", "sentence1", "sentence2", "label", BINARY),
)}


def find_task(name: str, where: str) -> GlueTask:
    """The task for a GLUE name in any spelling ("SST-2", "sst2", "sts_b")."""
    spec = TASKS.get(name.lower().replace("-", "").replace("_", ""))
    if spec is None:
        known = ", ".join(t.name for t in TASKS.values())
        raise InputError(f"{where}: unknown GLUE task {name!r} (known: {known}); set data.task")
    return spec


def load(data: DataConfig) -> TaskData:
    if data.path is None:
        name = data.task if data.name in (None, HUB_ID) else data.name
        return load_hub(find_task(name or "", f"data.name {data.name!r}"))
    folder = require_dir(Path(data.path))
    spec = find_task(data.task or folder.resolve().name, str(folder))
    if not (folder / "train.tsv").exists() and (folder / spec.name).is_dir():
        folder = folder / spec.name  # the glue_data parent folder with data.task
    raw = {"train": read_tsv(folder / "train.tsv", spec), "validation": read_tsv(folder / spec.dev, spec)}
    return _build(spec, raw)


def _build(spec: GlueTask, raw: dict) -> TaskData:
    kind = REGRESSION if spec.labels is None else CLASSIFICATION
    return build_task_data(kind, raw, task_name=spec.name, has_pair=spec.pair is not None,
                           labels=list(spec.labels) if spec.labels else None)


def read_tsv(path: Path, spec: GlueTask) -> dict[str, list]:
    """The raw columns of one GLUE .tsv file."""
    lines = read_lines(path)
    wanted = {"text": spec.text, "label": spec.label} | ({"text_pair": spec.pair} if spec.pair else {})
    first = 1 if spec.header else 0
    if spec.header:
        header = lines[0].split("\t")
        for key, name in wanted.items():
            if name not in header:
                raise bad(path, f"missing column {name!r} (header: {', '.join(header)})", 1)
        wanted = {key: header.index(name) for key, name in wanted.items()}
    if len(lines) <= first:
        raise bad(path, "no rows after the header")
    need = max(wanted.values()) + 1
    cols: dict[str, list] = {key: [] for key in wanted}
    for number, line in enumerate(lines[first:], start=first + 1):
        fields = line.split("\t")
        if len(fields) < need:
            raise bad(path, f"expected at least {need} tab-separated columns, got {len(fields)}", number)
        for key in ("text", "text_pair"):
            if key in wanted:
                cols[key].append(fields[wanted[key]].strip())
        cols["label"].append(_label(fields[wanted["label"]].strip(), spec, path, number))
    return cols


def _label(value: str, spec: GlueTask, path: Path, number: int) -> str | float:
    if spec.labels is None:
        try:
            return float(value)
        except ValueError:
            raise bad(path, f"score {value!r} is not a number", number) from None
    if value not in spec.labels:
        raise bad(path, f"label {value!r} is not one of {', '.join(spec.labels)}", number)
    return value


def load_hub(spec: GlueTask) -> TaskData:
    """The task from the hub (needs network access, or a filled datasets cache)."""
    import datasets

    where = f"{HUB_ID}/{spec.hub}"
    try:
        dd = datasets.load_dataset(HUB_ID, spec.hub)
    except Exception as exc:  # network, cache and hub errors all mean: cannot get the data this way
        raise InputError(f"{where}: cannot load from the hub ({reason(exc)}); "
                         f"download GLUE and set data.path to the {spec.name} folder") from None
    raw = {}
    for split, hub_split in (("train", "train"), ("validation", spec.hub_dev)):
        if hub_split not in dd:
            raise InputError(f"{where}: no split {hub_split!r} (has: {', '.join(dd)})")
        ds = dd[hub_split][:]  # dict of lists, fast (iterating a Column goes row by row)
        cols = {"text": ds[spec.hub_text]} | ({"text_pair": ds[spec.hub_pair]} if spec.hub_pair else {})
        values = ds["label"]
        if spec.labels is None:
            cols["label"] = [float(x) for x in values]
        else:
            wrong = [i for i, x in enumerate(values) if not 0 <= x < len(spec.labels)]
            if wrong:
                raise InputError(f"{where}[{hub_split}]:{wrong[0] + 1}: label {values[wrong[0]]} outside "
                                 f"0..{len(spec.labels) - 1}")
            cols["label"] = [spec.labels[x] for x in values]
        raw[split] = cols
    return _build(spec, raw)
