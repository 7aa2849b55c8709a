"""Named random streams: every seeded draw in a run comes from one of these.

A stream's value is mixed into the seed with the run's seed and the draw's
coordinates (event, epoch, rank), so two draws of different purpose never share
a generator and a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class SeedStream(IntEnum):
    """What a seed is for. The values are part of a run's results: changing one changes its draws.

    Marked streams use values far above any epoch count, so their words never
    equal DROPOUT's unmarked (seed, epoch, rank).
    """

    DROPOUT = 0  # torch's default generator during training, per (epoch, rank)
    BATCHES = 7907  # the order and grouping of training batches, per epoch
    SELECTION = 7919  # tie-breaks, exploration and random selection, per pruning event
    SOFT = 7927  # soft pruning: which below-mean examples an epoch skips, per epoch
    CALIBRATION = 7933  # which reused training-pass scores are also scored in eval mode, per event


def derive_seed(seed: int, stream: SeedStream, *parts: int) -> int:
    """A 63-bit seed from the run's seed, a stream and integer coordinates; stable across runs."""
    # DROPOUT mixes in no stream word: its seeds predate named streams, and keeping them keeps
    # earlier runs reproducible.
    marker = [] if stream is SeedStream.DROPOUT else [int(stream)]
    words = [int(seed), *marker, *(int(p) for p in parts)]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> 1)


def generator(seed: int, stream: SeedStream, *parts: int) -> np.random.Generator:
    """A numpy generator for one stream at the given coordinates."""
    return np.random.default_rng(derive_seed(seed, stream, *parts))
