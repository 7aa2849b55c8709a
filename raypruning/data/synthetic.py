"""A deterministic joint intent + slot task built into the package.

It lets the quickstart and the tests run offline, and it is made so that
pruning has something real to find: the training split mixes

- ``normal`` examples: a random template of the intent filled with random slot values;
- ``redundant`` examples: near-copies of a handful of prototypes per intent
  (easy, learned early, the first thing a good score drops);
- ``hard`` examples: the intent's template carrying a distractor phrase from
  another intent's vocabulary;
- ``mislabelled`` examples: a normal example whose intent label was flipped
  (they keep high EL2N after warmup: a test checks the score finds them).

The evaluation splits hold normal and hard examples with correct labels. The
train split carries a ``role`` column naming each example's kind. The
``sentence`` variant is the same data as plain classification (no slots).
"""

from __future__ import annotations

import numpy as np
import datasets

from raypruning.config import SyntheticConfig
from raypruning.data.schema import CLASSIFICATION, JOINT, TaskData

# Slot types and their values. Multi-word values make B-/I- tags matter.
SLOT_VALUES = {
    "city": ["boston", "new york", "san francisco", "denver", "paris", "tokyo", "las vegas", "oslo",
             "kuala lumpur", "cape town", "lima", "rome"],
    "date": ["today", "tomorrow", "next monday", "on friday", "this weekend", "june fourth", "in two days"],
    "time": ["at noon", "at seven am", "at midnight", "in the evening", "at half past six", "at nine"],
    "artist": ["the beatles", "miles davis", "adele", "daft punk", "nina simone", "radiohead", "bach"],
    "genre": ["jazz", "rock", "classical", "hip hop", "folk music", "techno"],
    "cuisine": ["thai", "italian", "mexican", "sushi", "vegan", "korean barbecue"],
    "item": ["pizza", "noodles", "a burrito", "two coffees", "green curry", "a salad"],
    "number": ["two", "three", "four", "six", "ten"],
    "device": ["the lights", "the heater", "the fan", "the tv", "the kitchen lamp"],
    "contact": ["mom", "alex", "the office", "doctor lee", "maria"],
}

# Intent -> templates; {slot} fields are filled with SLOT_VALUES.
INTENTS = {
    "book_flight": ["book a flight from {city} to {city} {date}", "i need a plane ticket to {city} {date}",
                    "find flights to {city} leaving {date} {time}", "fly me from {city} to {city}"],
    "get_weather": ["what is the weather in {city} {date}", "will it rain in {city} {date}",
                    "forecast for {city} {time}", "is it cold in {city} {date}"],
    "play_music": ["play some {genre} by {artist}", "put on {artist}", "i want to hear {genre} {time}",
                   "play {artist} songs"],
    "set_alarm": ["set an alarm {time} {date}", "wake me up {time}", "remind me {date} {time}",
                  "alarm for {time}"],
    "order_food": ["order {item} from a {cuisine} place", "get me {number} portions of {item}",
                   "i want {cuisine} food delivered {time}", "deliver {item} {time}"],
    "find_restaurant": ["find a {cuisine} restaurant in {city}", "table for {number} {date} {time}",
                        "book a {cuisine} place for {number}", "restaurants near {city} open {time}"],
    "control_device": ["turn on {device}", "switch off {device} {time}", "dim {device}",
                       "set {device} to {number}"],
    "call_contact": ["call {contact}", "phone {contact} {time}", "ring {contact} {date}",
                     "start a video call with {contact}"],
}
# Distractor phrases: words typical of one intent, inserted into another's utterance.
DISTRACTORS = {
    "book_flight": "like a plane", "get_weather": "if it is sunny", "play_music": "with music",
    "set_alarm": "before the alarm", "order_food": "while eating", "find_restaurant": "near a restaurant",
    "control_device": "with the lights", "call_contact": "after the call",
}
FILLERS = ["please", "now", "thanks", "hey", "could you", "i think", "quickly", "if possible"]


def _fill(template: str, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    words: list[str] = []
    tags: list[str] = []
    for token in template.split():
        if token.startswith("{") and token.endswith("}"):
            slot = token[1:-1]
            values = SLOT_VALUES[slot]
            value = values[rng.integers(len(values))].split()
            words.extend(value)
            tags.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(value) - 1))
        else:
            words.append(token)
            tags.append("O")
    return words, tags


def _decorate(words: list[str], tags: list[str], rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Add a filler word at the start or end so that examples vary a little."""
    if rng.random() < 0.5:
        filler = FILLERS[rng.integers(len(FILLERS))].split()
        if rng.random() < 0.5:
            return filler + words, ["O"] * len(filler) + tags
        return words + filler, tags + ["O"] * len(filler)
    return words, tags


def _example(intent: str, rng: np.random.Generator, intents: list[str], hard: bool):
    templates = INTENTS[intent]
    words, tags = _fill(templates[rng.integers(len(templates))], rng)
    if hard:
        other = intents[rng.integers(len(intents))]
        if other == intent:
            other = intents[(intents.index(intent) + 1) % len(intents)]
        extra = DISTRACTORS[other].split()
        at = int(rng.integers(len(words) + 1))
        words = words[:at] + extra + words[at:]
        tags = tags[:at] + ["O"] * len(extra) + tags[at:]
    return _decorate(words, tags, rng)


def _split(n: int, cfg: SyntheticConfig, intents: list[str], rng: np.random.Generator, train: bool):
    rows: list[tuple[list[str], list[str], int, str]] = []
    roles = ["normal"] * n
    if train:
        n_mis, n_red, n_hard = (round(n * f) for f in (cfg.mislabel_fraction, cfg.redundant_fraction, cfg.hard_fraction))
        roles = ["mislabelled"] * n_mis + ["redundant"] * n_red + ["hard"] * n_hard
        roles += ["normal"] * (n - len(roles))
        rng.shuffle(roles)
        # A few prototypes per intent, which redundant examples copy.
        prototypes = {i: [_example(i, rng, intents, False) for _ in range(3)] for i in intents}
    else:
        n_hard = round(n * cfg.hard_fraction)
        roles = ["hard"] * n_hard + ["normal"] * (n - n_hard)
        rng.shuffle(roles)
    for role in roles:
        label = int(rng.integers(len(intents)))
        intent = intents[label]
        if role == "redundant":
            words, tags = prototypes[intent][rng.integers(3)]
            words, tags = list(words), list(tags)
        else:
            words, tags = _example(intent, rng, intents, hard=(role == "hard"))
        if role == "mislabelled":
            label = (label + 1 + int(rng.integers(len(intents) - 1))) % len(intents)
        rows.append((words, tags, label, role))
    return rows


def generate(cfg: SyntheticConfig) -> TaskData:
    """Build the synthetic task; the same config always gives the same data."""
    if cfg.num_intents > len(INTENTS):
        from raypruning.errors import InputError

        raise InputError(f"key 'data.synthetic.num_intents': at most {len(INTENTS)}, got {cfg.num_intents}")
    rng = np.random.default_rng(cfg.seed)
    intents = list(INTENTS)[: cfg.num_intents]
    slot_labels = ["O"] + [f"{p}-{s}" for s in SLOT_VALUES for p in ("B", "I")]
    slot_index = {t: i for i, t in enumerate(slot_labels)}
    joint = cfg.task == "joint"
    splits = {}
    for name, n, train in (("train", cfg.num_train, True), ("validation", cfg.num_eval, False),
                           ("test", cfg.num_eval, False)):
        rows = _split(n, cfg, intents, rng, train)
        columns = {
            "id": list(range(len(rows))),
            "text": [" ".join(w) for w, _, _, _ in rows],
            "label": [lab for _, _, lab, _ in rows],
        }
        if joint:
            columns["words"] = [w for w, _, _, _ in rows]
            columns["slots"] = [[slot_index[t] for t in tags] for _, tags, _, _ in rows]
        if train:
            columns["role"] = [r for _, _, _, r in rows]
        splits[name] = datasets.Dataset.from_dict(columns)
    return TaskData(
        kind=JOINT if joint else CLASSIFICATION,
        splits=splits,
        labels=intents,
        slot_labels=slot_labels if joint else [],
        task_name=f"synthetic-{cfg.task}",
    )
