"""raypruning: finetune transformer text classifiers with dynamic data pruning,
and map the time-accuracy trade-off of its settings with studies on Ray."""

__version__ = "0.1.0"

from raypruning.api import study, train  # noqa: E402
from raypruning.config import Config  # noqa: E402

__all__ = ["Config", "train", "study", "load_study", "load_model", "__version__"]


def load_study(study):
    """The trials table (a pandas DataFrame) of a study folder or name."""
    from raypruning.queries import load_study as _load

    return _load(study)


def load_model(folder):
    """A model folder written by `raypruning export`, ready to `.predict(texts)` (any task kind)."""
    from raypruning.predict import load_model as _load

    return _load(folder)
