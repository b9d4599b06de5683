"""Demo captions: rendering, truth against ground-truth frames, and hard negatives that are false."""

import json

import numpy as np
import pytest

from pipeline.demo import lexicon
from pipeline.demo.captions import PICK_KEYS, describe, is_true, negatives, render
from pipeline.demo.generate import frame_relations

TRACKS = [{"track_id": 0, "shape": "circle", "color": "red"}, {"track_id": 1, "shape": "square", "color": "blue"}]


def _frames(circle_velocities, square_until):
    """A red circle left of a blue square; the circle moves with the given velocities, the square vanishes."""
    frames = []
    x = 0.2
    for index, velocity in enumerate(circle_velocities):
        objects = [{"track_id": 0, "box": [x - 0.05, 0.45, x + 0.05, 0.55], "velocity": list(velocity)}]
        if index <= square_until:
            objects.append({"track_id": 1, "box": [0.7, 0.45, 0.8, 0.55], "velocity": [0.0, 0.0]})
        disappearing = {1} if index == square_until else set()
        frames.append({"index": index, "time": index / 10, "objects": objects,
                       "relations": frame_relations(objects, set(), disappearing)})
        x += velocity[0] / 10
    return frames


def _clause(kind, subject, predicate, obj=None, adverb=None, modifier=None):
    return {"kind": kind, "subject": subject, "object": obj, "predicate": predicate, "adverb": adverb,
            "adverb_first": True, "variant": 0, "indefinite": False, "modifier": modifier}


RED_CIRCLE = {"color": "red", "shape": "circle"}
BLUE_SQUARE = {"color": "blue", "shape": "square"}
SPEC = {
    "clauses": [_clause("move", RED_CIRCLE, "moves left", adverb="slow"),
                _clause("disappear", BLUE_SQUARE, "disappears")],
    "order": "then", "template": "{a}, then {b}", "elide_repeats": False, "part": lexicon.TRAIN,
    "picks": dict.fromkeys(PICK_KEYS, 0),
}
COLOR_WORDS = {w for table in lexicon.COLOR_WORDS.values() for words in table.values() for w in words}


def test_render_and_truth_of_a_then_caption():
    frames = _frames([(-0.08, 0)] * 3 + [(0, 0)] * 3, square_until=4)
    assert render(SPEC) == "The crimson disc slowly goes leftward, then the navy box fades out."
    assert render({**SPEC, "part": lexicon.HELDOUT, "picks": dict.fromkeys(PICK_KEYS, 1)}) == (
        "The scarlet coin sluggishly slips westward, then the turquoise slab dematerializes.")
    assert is_true(SPEC, frames, TRACKS)
    too_fast = _frames([(-0.3, 0)] * 3 + [(0, 0)] * 3, square_until=4)
    assert not is_true(SPEC, too_fast, TRACKS)  # "slowly" is checked against the true speed


def test_negatives_differ_in_one_respect_and_are_false():
    frames = _frames([(-0.08, 0)] * 3 + [(0, 0)] * 3, square_until=4)
    found = negatives(SPEC, frames, TRACKS, np.random.default_rng(0))
    assert {(n["kind"], n["caption"]) for n in found} == {
        ("relation", "The crimson disc slowly goes rightward, then the navy box fades out."),
        ("relation", "The crimson disc slowly goes leftward, then the navy box arrives."),
        ("attribute", "The navy disc slowly goes leftward, then the crimson box fades out."),
        ("order", "The navy box fades out, then the crimson disc slowly goes leftward."),
    }


def test_a_negative_that_happens_to_be_true_is_dropped():
    # The circle first moves right, then left: "moves right, then the square disappears" is true here.
    frames = _frames([(0.08, 0)] * 2 + [(-0.08, 0)] * 3 + [(0, 0)], square_until=4)
    captions = [n["caption"] for n in negatives(SPEC, frames, TRACKS, np.random.default_rng(0))]
    assert is_true(SPEC, frames, TRACKS)
    assert "The crimson disc slowly goes rightward, then the navy box fades out." not in captions
    assert "The navy disc slowly goes leftward, then the crimson box fades out." in captions


def test_textual_order_decides_which_mention_keeps_its_colour():
    spec = {**SPEC, "template": "{b} after {a}", "elide_repeats": True,
            "clauses": [_clause("move", RED_CIRCLE, "moves left"),
                        _clause("approach", BLUE_SQUARE, "approaches", obj=RED_CIRCLE)]}
    assert render(spec) == "The navy box draws closer to the crimson disc after the disc goes leftward."


def test_describe_keeps_only_true_modifiers_and_no_horizontal_ones():
    frames = _frames([(-0.08, 0)] * 3 + [(0, 0)] * 3, square_until=4)
    event = {"type": "move", "subject": 0, "object": None, "predicate": "moves left", "speed": "slow",
             "start_frame": 0, "end_frame": 2}
    for seed in range(20):
        spec = describe([event], None, TRACKS, frames, frames, np.random.default_rng(seed))
        assert spec is not None and is_true(spec, frames, TRACKS)
        # the circle is only left of the square, and "left of" has no wording the caption parser reads
        assert spec["clauses"][0]["modifier"] is None


@pytest.fixture(scope="module")
def val_demo(demo_data):
    return demo_data


def test_every_val_segment_has_valid_negatives(val_demo):
    entries = json.loads((val_demo / "test_compositional.json").read_text())
    val = json.loads((val_demo / "val_1.json").read_text())
    assert len(entries) == sum(len(v["sentences"]) for v in val.values())
    for entry in entries:
        assert entry["caption"] == val[entry["video_id"]]["sentences"][entry["segment_index"]]
        assert entry["negatives"], entry
        for negative in entry["negatives"]:
            assert negative["kind"] in ("relation", "attribute", "order")
            assert negative["caption"] != entry["caption"]
            if negative["kind"] == "attribute":  # only colour words change
                pairs = list(zip(negative["caption"].split(), entry["caption"].split(), strict=True))
                assert all(a == b or a.strip(".,") in COLOR_WORDS for a, b in pairs)
