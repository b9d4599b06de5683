"""YOLO export of the demo frames: labels agree with the ground truth, and ultralytics reads the dataset."""

import json
import shutil
from pathlib import Path

import cv2
import pytest

from pipeline.demo import layout
from pipeline.demo.detection_data import export_yolo_dataset, yolo_label_lines
from pipeline.demo.generate import SHAPES


@pytest.fixture(scope="module")
def demo(demo_data):
    """The session's demo (tests/conftest.py), exported for YOLO: v_demo_0000 is train, v_demo_0002 val."""
    return demo_data


def test_labels_match_ground_truth_boxes(demo):
    detection = demo / "detection"
    every = json.loads((demo / layout.SETTINGS).read_text())["detection_every"]
    for split, video_id in (("train", "v_demo_0000"), ("val", "v_demo_0002")):
        truth = json.loads((demo / "ground_truth" / f"{video_id}.json").read_text())
        classes = {t["track_id"]: SHAPES.index(t["shape"]) for t in truth["tracks"]}
        labels = sorted((detection / "labels" / split).glob(f"{video_id}_*.txt"))
        assert labels and len(labels) == len(range(0, truth["num_frames"], every))
        for label in labels:
            frame = truth["frames"][int(label.stem.rsplit("_", 1)[1])]
            expected = sorted(
                (classes[o["track_id"]], (o["box"][0] + o["box"][2]) / 2, (o["box"][1] + o["box"][3]) / 2)
                for o in frame["objects"] if o["visible_fraction"] >= 0.3
            )
            rows = [line.split() for line in label.read_text().splitlines()]
            found = sorted((int(r[0]), float(r[1]), float(r[2])) for r in rows)
            assert [c for c, _, _ in found] == [c for c, _, _ in expected]
            for (_, x, y), (_, ex, ey) in zip(found, expected):
                assert x == pytest.approx(ex, abs=1e-5) and y == pytest.approx(ey, abs=1e-5)
            image = cv2.imread(str(detection / "images" / split / f"{label.stem}.jpg"))
            assert image.shape == (240, 320, 3)


def test_hidden_objects_get_no_label():
    frame = {"objects": [{"track_id": 0, "box": [0.1, 0.2, 0.3, 0.6], "velocity": [0, 0], "visible_fraction": 1.0},
                         {"track_id": 1, "box": [0.5, 0.5, 0.6, 0.6], "velocity": [0, 0], "visible_fraction": 0.1}]}
    assert yolo_label_lines(frame, {0: 3, 1: 0}) == ["3 0.200000 0.400000 0.200000 0.400000"]


def test_ultralytics_resolves_the_data_yaml(demo, tmp_path, monkeypatch):
    import ultralytics.data.utils
    from ultralytics.data.utils import check_det_dataset

    fonts = []  # check_det_dataset downloads a font for its plots: keep it off the network
    monkeypatch.setattr(ultralytics.data.utils, "check_font", fonts.append)
    moved = tmp_path / "moved"
    shutil.copytree(demo / "detection", moved)  # no absolute path inside: the dataset still works after a move
    data = check_det_dataset(str(moved / "data.yaml"))
    assert data["names"] == dict(enumerate(SHAPES))
    assert Path(data["train"]) == moved / "images" / "train" and Path(data["val"]).exists()
    assert fonts == ["Arial.ttf"]


def test_missing_annotations_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="generate the demo first"):
        export_yolo_dataset(tmp_path, tmp_path / "detection", every=5, class_names=SHAPES)


@pytest.mark.slow
def test_committed_detector_finds_the_shapes_of_a_new_frame(demo):
    from ultralytics import YOLO

    truth = json.loads((demo / "ground_truth" / "v_demo_0002.json").read_text())
    model = YOLO(str(layout.WEIGHTS))
    assert [model.names[i] for i in range(len(SHAPES))] == list(SHAPES)
    hits = total = 0
    for image_path in sorted((demo / "detection" / "images" / "val").glob("*.jpg")):
        frame = truth["frames"][int(image_path.stem.rsplit("_", 1)[1])]
        result = model(str(image_path), imgsz=320, conf=0.25, verbose=False)[0]
        found = {(int(c), tuple(b)) for c, b in zip(result.boxes.cls.tolist(), result.boxes.xyxyn.tolist())}
        for obj in frame["objects"]:
            if obj["visible_fraction"] < 0.9:
                continue
            total += 1
            shape = next(t["class_id"] for t in truth["tracks"] if t["track_id"] == obj["track_id"])
            hits += any(c == shape and _iou(b, obj["box"]) > 0.5 for c, b in found)
    assert total and hits / total >= 0.8


def _iou(a, b):
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union
