"""A hand-made trials table shared by the analysis, rendering and file tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

OBJ = {"score": "max", "total_time_s": "min"}


def table() -> pd.DataFrame:
    """Reference 0; 2 and 3 are exact duplicates; 4 is dominated by 2; 5 has no score."""
    return pd.DataFrame(
        {
            "trial_id": [0, 1, 2, 3, 4, 5, 6],
            "warmup_epochs": [0, 1, 1, 1, 2, 1, 0],
            "period_epochs": [1, 1, 2, 2, 1, 1, 3],
            "keep_fraction": [1.0, 0.7, 0.5, 0.5, 0.6, 0.3, 0.2],
            "score": [90.0, 89.5, 88.0, 88.0, 85.0, np.nan, 70.0],
            "total_time_s": [100.0, 60.0, 40.0, 40.0, 50.0, 10.0, 20.0],
            "wall_time_s": [120.0, 75.0, 50.0, 52.0, 61.0, 15.0, 30.0],
            "examples_trained": [1000, 700, 500, 500, 600, 300, 200],
            "is_reference": [True, False, False, False, False, False, False],
            "method": ["reference", "dynamic", "dynamic", "static-el2n", "dynamic-random", "dynamic", "dynamic"],
        }
    )
