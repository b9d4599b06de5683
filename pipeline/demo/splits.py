"""The demo's evaluation splits, the compositions each may use, and how much of each split's wording the DSG shares.

  train                trained on; lexicon.TRAIN wording; no held-out composition in its scenes or captions
  dev                  like train (its wording, its compositions), never trained on: for choosing settings
  heldout-wording      train compositions, lexicon.HELDOUT wording: does the model know words it was not taught?
  heldout-composition  train wording, held-out compositions: every object is a held-out (colour, shape) pair and
                       every relation between two objects a held-out (subject shape, relation, object shape) triple
The held-out compositions follow from the generator's seed (held_out_compositions). train.json holds the train
videos; val_1.json the others, each entry with its `split`; splits.json maps every video to its split and lists the
held-out compositions; test_compositional.json gives each non-train caption's `split` beside its negatives.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.demo import layout, lexicon
from pipeline.relations import PAIR_PREDICATES, UNARY_PREDICATES

TRAIN, DEV, HELDOUT_WORDING, HELDOUT_COMPOSITION = "train", "dev", "heldout-wording", "heldout-composition"
SPLITS = (TRAIN, DEV, HELDOUT_WORDING, HELDOUT_COMPOSITION)
EVALUATION_SPLITS = SPLITS[1:]
WORDING = {TRAIN: lexicon.TRAIN, DEV: lexicon.TRAIN, HELDOUT_WORDING: lexicon.HELDOUT,
           HELDOUT_COMPOSITION: lexicon.TRAIN}
# Relations between two objects that captions name: the events with an object and the spatial modifiers.
RELATIONS = ("approaches", "moves away from", "passes", *lexicon.SPATIAL_PHRASES)
HELD_OUT_COLORS_PER_SHAPE = 2
HELD_OUT_RELATION_SHARE = 1 / 3
COMPOSITION_STREAM = (0, 13)  # appended to the seed: a random stream apart from the videos' (seed, index) ones
# Words that carry no content: articles, pronouns, and the prepositions and conjunctions that only join phrases.
FUNCTION_WORDS = {"a", "an", "the", "of", "to", "from", "in", "into", "on", "by", "at", "than", "and", "it", "its",
                  "itself", "is", "that", "which", "as"}


@dataclass(frozen=True)
class HeldOutCompositions:
    """Compositions only heldout-composition clips show: (colour, shape) pairs and (shape, relation, shape) triples."""
    color_shapes: frozenset
    relations: frozenset

    def to_json(self) -> dict:
        return {"color_shapes": sorted(map(list, self.color_shapes)), "relations": sorted(map(list, self.relations))}


def held_out_compositions(seed: int, shapes, colors) -> HeldOutCompositions:
    """HELD_OUT_COLORS_PER_SHAPE colours per shape, in a seeded rotation so that any set of shapes can take distinct
    held-out colours and every shape keeps train colours; HELD_OUT_RELATION_SHARE of the relation triples."""
    shapes, colors = list(shapes), list(colors)
    if len(colors) < max(len(shapes), HELD_OUT_COLORS_PER_SHAPE + 1):
        raise ValueError(f"{len(colors)} colours for {len(shapes)} shapes: the composition split needs at least "
                         f"{max(len(shapes), HELD_OUT_COLORS_PER_SHAPE + 1)} so that every shape keeps a train "
                         "colour and all shapes of a scene can take distinct colours of either kind.")
    rng = np.random.default_rng([seed, *COMPOSITION_STREAM])
    order = [colors[i] for i in rng.permutation(len(colors))]
    pairs = {(order[(i + k) % len(order)], shape) for i, shape in enumerate(shapes)
             for k in range(HELD_OUT_COLORS_PER_SHAPE)}
    triples = [(a, r, b) for a in shapes for r in RELATIONS for b in shapes if a != b]
    chosen = rng.choice(len(triples), size=round(len(triples) * HELD_OUT_RELATION_SHARE), replace=False)
    return HeldOutCompositions(frozenset(pairs), frozenset(triples[i] for i in chosen))


def composition_rules(split: str, held: HeldOutCompositions):
    """(may a track have this (colour, shape), may a caption say this (shape, relation, shape)) for `split`."""
    if split not in SPLITS:
        raise ValueError(f"split '{split}' is unknown; expected one of {SPLITS}.")
    novel = split == HELDOUT_COMPOSITION
    return (lambda color, shape: ((color, shape) in held.color_shapes) == novel,
            lambda subject, relation, obj: ((subject, relation, obj) in held.relations) == novel)


def read_splits(data_root: str | Path) -> dict[str, str]:
    """{video_id: split} of a demo dataset; one without splits.json (older demos) gives train.json's videos 'train'
    and val_1.json's 'val'."""
    data_root = Path(data_root)
    path = data_root / layout.SPLITS
    if path.is_file():
        return json.loads(path.read_text())["videos"]
    found = {}
    for name, split in (("train.json", TRAIN), ("val_1.json", "val")):
        if not (data_root / name).is_file():
            raise FileNotFoundError(f"{data_root / name} not found: expected a demo dataset (make demo).")
        found.update(dict.fromkeys(json.loads((data_root / name).read_text()), split))
    return found


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in FUNCTION_WORDS]


def dsg_words(truth: dict) -> set[str]:
    """The words of a clip's DSG labels: its detector class names, colour attribute values and the whole predicate
    vocabulary (from the generator's ground truth, which the pipeline's DSG follows)."""
    labels = [t["class_name"] for t in truth["tracks"]] + [t["color"] for t in truth["tracks"]]
    return {w for label in [*labels, *PAIR_PREDICATES, *UNARY_PREDICATES] for w in content_words(label)}


def dsg_word_overlap(data_root: str | Path) -> dict[str, dict]:
    """Per split: how many caption content words there are and the share that occur verbatim among the clip's DSG
    label words ({split: {"captions", "content_words", "verbatim", "share"}}, share in percent)."""
    data_root = Path(data_root)
    counts: dict[str, list[int]] = {}
    for video_id, split in read_splits(data_root).items():
        truth = json.loads((data_root / "ground_truth" / f"{video_id}.json").read_text())
        labels = dsg_words(truth)
        for segment in truth["segments"]:
            words = content_words(segment["caption"])
            row = counts.setdefault(split, [0, 0, 0])
            row[0] += 1
            row[1] += len(words)
            row[2] += sum(w in labels for w in words)
    return {split: {"captions": n, "content_words": words, "verbatim": verbatim,
                    "share": 100.0 * verbatim / words if words else float("nan")}
            for split, (n, words, verbatim) in counts.items()}


def format_overlap(overlap: dict[str, dict]) -> str:
    return "\n".join(f"{split:20s} {row['share']:5.1f} % of {row['content_words']} caption content words are DSG "
                     f"label words ({row['captions']} captions)" for split, row in overlap.items())
