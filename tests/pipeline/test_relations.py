import numpy as np
import pytest

from pipeline.relations import (
    FEATURE_NAMES,
    PAIR_PREDICATES,
    MLPRelationHead,
    Relater,
    Thresholds,
    fit_relation_head,
    geometric_relations,
    pair_features,
    pair_motion,
    relation_training_data,
)
from schemas.common import STATUS_ERROR, STATUS_OK


def test_left_right_above_below_with_thresholds():
    a, b = [0.1, 0.1, 0.2, 0.2], [0.3, 0.5, 0.4, 0.6]
    assert set(geometric_relations(a, b)) == {"left of", "above"}
    assert set(geometric_relations(b, a)) == {"right of", "below"}
    just_under = [0.19, 0.1, 0.29, 0.2]  # centre x 0.09 to the right of a: below the 0.1 threshold
    assert "left of" not in geometric_relations(a, just_under)
    assert "left of" in geometric_relations(a, just_under, Thresholds(horizontal=0.05))


def test_near_touching_inside_front_behind():
    big, small_inside = [0.2, 0.2, 0.6, 0.6], [0.3, 0.3, 0.4, 0.4]
    # Depth follows the bottom edges alone, as the vocabulary defines it, so it holds inside a box too.
    assert set(geometric_relations(small_inside, big)) == {"inside", "behind"}
    assert set(geometric_relations(big, small_inside)) == {"in front of"}
    front, back = [0.3, 0.35, 0.5, 0.55], [0.4, 0.3, 0.6, 0.5]
    assert set(geometric_relations(front, back)) == {"near", "touching", "in front of"}
    assert set(geometric_relations(back, front)) == {"near", "touching", "behind"}
    apart = [0.5, 0.3, 0.6, 0.4]
    assert set(geometric_relations([0.3, 0.3, 0.4, 0.4], apart)) == {"near", "left of"}


def test_motion_towards_and_away():
    a, b = [0.1, 0.4, 0.2, 0.5], [0.7, 0.4, 0.8, 0.5]
    assert set(pair_motion(a, b, (0.2, 0.0), (0.0, 0.0))) == {"approaches"}
    assert set(pair_motion(a, b, (-0.2, 0.0), (0.0, 0.0))) == {"moves away from"}
    assert pair_motion(a, b, (0.01, 0.0), (0.0, 0.0)) == {}
    assert pair_motion(a, b, (0.2, 0.0), (0.3, 0.0)) == {}  # b runs away faster: distance grows


def objects_of(track_boxes):
    """objects list from {track: [box or None per keyframe]}."""
    objects = []
    for track, boxes in track_boxes.items():
        for frame, box in enumerate(boxes):
            if box is not None:
                objects.append({"frame": frame, "track_id": track, "box": box, "score": 1.0})
    return objects


def triples(relations, objects):
    return {(r["frame"], objects[r["subject"]]["track_id"], r["predicate"],
             None if r["object"] is None else objects[r["object"]]["track_id"]) for r in relations}


def test_relater_motion_and_events_over_keyframes():
    times = [0.0, 1.0, 2.0, 3.0]
    mover = [[0.1 + 0.1 * k, 0.1, 0.2 + 0.1 * k, 0.2] for k in range(4)]
    visitor = [None, [0.8, 0.8, 0.9, 0.9], [0.8, 0.8, 0.9, 0.9], None]
    objects = objects_of({0: mover, 1: visitor})
    found = triples(Relater().relate(objects, times), objects)
    assert {(k, 0, "moves right", None) for k in range(4)} <= found
    assert (1, 1, "appears", None) in found and (2, 1, "disappears", None) in found
    assert (0, 0, "appears", None) not in found and (3, 0, "disappears", None) not in found
    assert (1, 0, "left of", 1) in found and (1, 1, "below", 0) in found
    assert not any(p.startswith("moves") for f, t, p, o in found if t == 1)
    scores = [r["score"] for r in Relater().relate(objects, times)]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_relater_passes_error_rows():
    out = Relater()({"status": [STATUS_ERROR, STATUS_OK], "objects": [[], []], "frame_times": [[], [0.0]]})
    assert out["relations"] == [[], []]


def random_frames(count, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        objects = []
        for track in range(3):
            x, y = rng.uniform(0, 0.8, size=2)
            objects.append({"track_id": track, "box": [x, y, x + 0.15, y + 0.15], "velocity": [0.0, 0.0]})
        relations = [{"subject": a["track_id"], "object": b["track_id"], "predicate": p}
                     for a in objects for b in objects if a is not b
                     for p in geometric_relations(a["box"], b["box"])]
        frames.append({"objects": objects, "relations": relations})
    return frames


def test_mlp_head_learns_left_of_and_round_trips(tmp_path):
    features, labels = relation_training_data(random_frames(80), predicates=("left of", "above"))
    assert features.shape == (480, len(FEATURE_NAMES)) and labels.shape == (480, 2)
    head = fit_relation_head(features, labels, predicates=("left of", "above"), epochs=200)
    test_features, test_labels = relation_training_data(random_frames(30, seed=1), predicates=("left of", "above"))
    accuracy = ((head(test_features) > 0.5) == (test_labels > 0.5)).mean()
    assert accuracy > 0.9
    path = tmp_path / "head.pt"
    head.save(path)
    loaded = MLPRelationHead.load(path)
    assert loaded.predicates == ("left of", "above")
    assert np.allclose(loaded(test_features), head(test_features))
    with pytest.raises(FileNotFoundError):
        MLPRelationHead.load(tmp_path / "nope.pt")


def test_relater_uses_a_plugged_in_head():
    class AlwaysNear:
        predicates = ("near", "touching")

        def __call__(self, features):
            assert features.shape[1] == len(FEATURE_NAMES)
            return np.tile([0.9, 0.1], (len(features), 1))

    objects = objects_of({0: [[0.1, 0.1, 0.2, 0.2]], 1: [[0.7, 0.7, 0.8, 0.8]]})
    found = triples(Relater(head=AlwaysNear()).relate(objects, [0.0]), objects)
    assert found == {(0, 0, "near", 1), (0, 1, "near", 0)}
    assert pair_features([0, 0, 0.1, 0.1], [0.5, 0, 0.6, 0.1], (0, 0), (0, 0))[0] == pytest.approx(0.5)


def test_relation_head_cli_trains_on_demo_ground_truth(demo_data, tmp_path, capsys):
    from pipeline.relations import main

    assert main(["--data-root", str(demo_data), "--out", str(tmp_path / "head.pt"), "--epochs", "50"]) == 0
    assert MLPRelationHead.load(tmp_path / "head.pt").predicates == PAIR_PREDICATES
    assert "| left of |" in capsys.readouterr().out
