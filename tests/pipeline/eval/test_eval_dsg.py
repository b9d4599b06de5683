import copy

import pytest


from pipeline.demo import layout
from pipeline.eval.dsg import evaluate_rows, load_truths, match_objects, oracle_rows


@pytest.fixture(scope="module")
def demo(demo_data):
    root = demo_data
    samples = layout.read_split(root, "val")
    assert all(s["video_path"].endswith(f"videos/{s['video_id']}.mp4") for s in samples)
    return samples, load_truths(root, [s["video_id"] for s in samples])


def test_match_objects_needs_iou_and_class():
    pred = [[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7], [0.8, 0.8, 0.9, 0.9]]
    gt = [[0.52, 0.5, 0.72, 0.7], [0.0, 0.0, 0.2, 0.2], [0.81, 0.8, 0.91, 0.9]]
    assert sorted(match_objects(pred, ["a", "b", "c"], gt, ["b", "a", "x"])) == [(0, 1), (1, 0)]
    assert match_objects([[0.0, 0.0, 0.2, 0.2]], ["a"], [[0.1, 0.0, 0.3, 0.2]], ["a"]) == []  # IoU 1/3


def test_ground_truth_rows_score_perfectly(demo):
    samples, truths = demo
    metrics = evaluate_rows(oracle_rows(samples, truths), truths)
    assert metrics["rows"] == len(samples) and metrics["gt_objects"] > 0
    assert metrics["object_recall"] == 1.0 and metrics["object_precision"] == 1.0
    assert metrics["idf1"] == 1.0 and metrics["id_switches"] == 0 and metrics["attribute_accuracy"] == 1.0
    assert metrics["relation_recall"] > 0.9


def test_missing_objects_swapped_ids_and_dropped_relations_are_counted(demo):
    samples, truths = demo
    rows = oracle_rows(samples, truths)
    perfect = evaluate_rows(rows, truths)
    broken = copy.deepcopy(rows)
    row = broken[0]
    removed = row["objects"].pop(0)  # one missed detection (relations pointing past it shift, so drop them all)
    row["relations"] = []
    for obj in row["objects"]:
        if obj["frame"] >= len(row["frame_times"]) // 2 and obj["track_id"] == removed["track_id"]:
            obj["track_id"] = 99  # the same object gets a new id halfway
    metrics = evaluate_rows(broken, truths)
    assert metrics["object_recall"] < 1.0 and metrics["object_precision"] == 1.0
    assert metrics["idf1"] < 1.0 and metrics["id_switches"] >= 1
    assert metrics["relation_recall"] < perfect["relation_recall"]
    shifted = copy.deepcopy(rows)
    for obj in shifted[0]["objects"]:
        obj["box"] = [min(v + 0.3, 1.0) for v in obj["box"]]
    assert evaluate_rows(shifted, truths)["object_precision"] < 1.0


def hand_scene() -> tuple[dict, dict]:
    """Three keyframes at 1 fps. Ground truth: red circle 0 moves right along the top, left of blue square 1; green
    square 2 is hidden (20 % visible) at frame 0. The prediction: every object at frames 0 and 1 (the square's colour
    wrong, the hidden one found), a false triangle at frame 1, the circle under a new track id at frame 2 and the
    square missed there; relations 'left of' at 0 (right), 'moves right' at 1 (right), 'above' at 1 (wrong)."""
    circle = [[0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2], [0.2, 0.0, 0.4, 0.2]]
    square, hidden = [0.6, 0.6, 0.8, 0.8], [0.3, 0.3, 0.5, 0.5]
    frames = []
    for k in range(3):
        objects = [{"track_id": 0, "box": circle[k], "visible_fraction": 1.0},
                   {"track_id": 1, "box": square, "visible_fraction": 1.0}]
        relations = [{"subject": 0, "predicate": "left of", "object": 1}]
        if k == 0:
            objects.append({"track_id": 2, "box": hidden, "visible_fraction": 0.2})
            relations.append({"subject": 2, "predicate": "left of", "object": 1})
        if k == 1:
            relations.append({"subject": 0, "predicate": "moves right", "object": None})
        frames.append({"index": k, "time": float(k), "objects": objects, "relations": relations})
    truth = {"fps": 1, "frames": frames, "tracks": [{"track_id": 0, "class_name": "circle", "color": "red"},
                                                    {"track_id": 1, "class_name": "square", "color": "blue"},
                                                    {"track_id": 2, "class_name": "square", "color": "green"}]}

    def detection(frame, track, class_name, box, colour):
        return {"frame": frame, "track_id": track, "class_name": class_name, "box": box, "attributes": [colour]}

    objects = [detection(0, 10, "circle", circle[0], "red"), detection(0, 11, "square", square, "green"),
               detection(0, 12, "square", hidden, "green"),
               detection(1, 10, "circle", circle[1], "red"), detection(1, 11, "square", square, "green"),
               detection(1, 13, "triangle", [0.8, 0.0, 1.0, 0.2], "red"),
               detection(2, 14, "circle", circle[2], "red")]
    relations = [{"frame": 0, "subject": 0, "predicate": "left of", "object": 1},
                 {"frame": 1, "subject": 3, "predicate": "moves right", "object": None},
                 {"frame": 1, "subject": 3, "predicate": "above", "object": 4}]
    row = {"video_id": "v", "status": "ok", "frame_times": [0.0, 1.0, 2.0], "objects": objects,
           "relations": relations}
    return row, truth


def test_figures_of_a_hand_made_scene_are_exact():
    row, truth = hand_scene()
    metrics = evaluate_rows([row, {"video_id": "v", "status": "error"}], {"v": truth})
    assert (metrics["rows"], metrics["error_rows"], metrics["keyframes"]) == (2, 1, 3)
    # 6 visible ground-truth objects (the hidden square is don't-care), 6 counted detections, 5 matched.
    assert (metrics["gt_objects"], metrics["pred_objects"]) == (6, 6)
    assert metrics["object_recall"] == pytest.approx(5 / 6) and metrics["object_precision"] == pytest.approx(5 / 6)
    assert metrics["attribute_accuracy"] == pytest.approx(3 / 5)  # the square's two detections say green
    # IDTP 4 (circle -> 10 twice, square -> 11 twice) over 6 + 6 detections; the circle switches 10 -> 14 once.
    assert metrics["idf1"] == pytest.approx(8 / 12) and metrics["id_switches"] == 1 and metrics["gt_tracks"] == 2
    # Ground-truth triples: left of x3 (found at 0 only), moves right (found); predicted: 3, two right.
    assert (metrics["relation_total"], metrics["relation_predicted"]) == (4, 3)
    assert metrics["relation_recall"] == pytest.approx(2 / 4) and metrics["relation_precision"] == pytest.approx(2 / 3)
    assert metrics["relation_recall_by_predicate"] == {"left of": {"found": 1, "total": 3, "recall": 1 / 3},
                                                       "moves right": {"found": 1, "total": 1, "recall": 1.0}}
