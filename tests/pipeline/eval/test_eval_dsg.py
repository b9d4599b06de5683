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
