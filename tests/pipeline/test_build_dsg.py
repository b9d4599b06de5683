import cv2
import numpy as np
import pyarrow as pa
import pytest

from pipeline.detect import Detections
from pipeline.build_dsg import DSGBuilder
from schemas import dsg
from schemas.common import STATUS_ERROR, STATUS_OK
from tests.pipeline.conftest import FPS, HEIGHT, SQUARE, WIDTH, red_square_left


def test_missing_weights_fail_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        DSGBuilder(weights=str(tmp_path / "yolov8n.pt"))


def test_rows_fit_the_dsg_schema_with_error_rows(random_yolo_weights, tiny_video, broken_videos, make_batch):
    builder = DSGBuilder(str(random_yolo_weights), num_frames=3, imgsz=160, conf=1e-6, max_det=5, batch_size=4,
                         keyframe_size=64)
    batch = make_batch([(tiny_video, 0.0, 1.0), (broken_videos["text"], 0.0, 1.0), (tiny_video, 0.5, 1.9),
                        (tiny_video, 0.0, 1.0)], status=[STATUS_OK, STATUS_OK, STATUS_OK, STATUS_ERROR])
    batch["error_message"][3] = "s3: caption is empty"
    out = builder(batch)
    assert list(out) == dsg.SCHEMA.names
    table = pa.Table.from_pydict(out, schema=dsg.SCHEMA)
    dsg.validate(table)
    assert out["status"] == [STATUS_OK, STATUS_ERROR, STATUS_OK, STATUS_ERROR]
    assert str(broken_videos["text"]) in out["error_message"][1] and out["error_message"][3] == "s3: caption is empty"
    assert out["objects"][1] == [] and out["keyframes"][3] == []
    assert len(out["keyframes"][0]) == 3 and (out["frame_width"][0], out["frame_height"][0]) == (WIDTH, HEIGHT)
    first = cv2.imdecode(np.frombuffer(out["keyframes"][0][0], np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (48, 64, 3)
    assert any(out["objects"][0]) and builder.detector_info["sha256"]


def square_boxes(time):
    """The tiny video's two squares as normalised boxes at `time`: red (moving right), blue (still)."""
    x = red_square_left(round(time * FPS))
    red = [x / WIDTH, 10 / HEIGHT, (x + SQUARE) / WIDTH, (10 + SQUARE) / HEIGHT]
    blue = [60 / WIDTH, 75 / HEIGHT, (60 + SQUARE) / WIDTH, (75 + SQUARE) / HEIGHT]
    return np.array([red, blue], np.float32)


def test_graph_of_known_detections(random_yolo_weights, tiny_video, make_batch):
    builder = DSGBuilder(str(random_yolo_weights), num_frames=4, imgsz=160, prefetch=False)
    times_seen = []

    def fake_detect(frames):
        # The decoded frames are the video's own: find the red square to know each frame's time.
        found = []
        for frame in frames:
            red_columns = np.flatnonzero((frame[25, :, 0] > 200) & (frame[25, :, 1] < 60))
            time = (red_columns[0] - 10) / 4 / FPS
            times_seen.append(time)
            found.append(Detections(square_boxes(time), np.array([0.9, 0.8], np.float32), np.array([0, 0])))
        return found

    builder.detector.detect = fake_detect
    out = builder(make_batch([(tiny_video, 0.0, 1.5)]))
    dsg.validate(pa.Table.from_pydict(out, schema=dsg.SCHEMA))
    assert np.allclose(times_seen, out["frame_times"][0], atol=0.06)
    objects = out["objects"][0]
    assert [o["track_id"] for o in objects] == [0, 1] * 4
    assert [o["attributes"] for o in objects[:2]] == [["red"], ["blue"]]
    names = {(objects[r["subject"]]["track_id"], r["predicate"],
              None if r["object"] is None else objects[r["object"]]["track_id"]) for r in out["relations"][0]}
    assert {(0, "above", 1), (1, "below", 0), (0, "moves right", None)} <= names
    assert (1, "moves right", None) not in names
    links = [(objects[link["source"]]["frame"], objects[link["target"]]["frame"], objects[link["source"]]["track_id"])
             for link in out["temporal_links"][0]]
    assert sorted(links) == sorted((k, k + 1, t) for k in range(3) for t in (0, 1))


def test_settings_switch_attributes_off_and_load_a_relation_head(random_yolo_weights, tiny_video, make_batch,
                                                                   tmp_path):
    from pipeline.relations import MLPRelationHead

    with pytest.raises(FileNotFoundError, match="Relation head"):
        DSGBuilder(str(random_yolo_weights), relation_head=str(tmp_path / "head.pt"))
    head = MLPRelationHead(("near",), hidden=4)
    head.save(tmp_path / "head.pt")
    builder = DSGBuilder(str(random_yolo_weights), num_frames=2, imgsz=160, attributes=False,
                         relation_head=str(tmp_path / "head.pt"), relation_head_threshold=0.0)
    builder.detector.detect = lambda frames: [
        Detections(square_boxes(0.0), np.array([0.9, 0.8], np.float32), np.array([0, 0])) for _ in frames]
    out = builder(make_batch([(tiny_video, 0.0, 1.0)]))
    assert all(o["attributes"] == [] for o in out["objects"][0])
    pair_predicates = {r["predicate"] for r in out["relations"][0] if r["object"] is not None}
    assert pair_predicates == {"near"}


def test_captions_of_one_segment_share_one_build(random_yolo_weights, tiny_video, broken_videos, make_batch):
    builder = DSGBuilder(str(random_yolo_weights), num_frames=2, imgsz=160, conf=1e-6, max_det=5, keyframe_size=64)
    calls = []
    build = builder.build
    builder.build = lambda batch: calls.append(list(batch["sample_id"])) or build(batch)
    batch = make_batch([(tiny_video, 0.0, 1.0), (broken_videos["text"], 0.0, 1.0), (tiny_video, 0.0, 1.0),
                        (broken_videos["text"], 0.0, 1.0), (tiny_video, 0.5, 1.9)])
    out = builder(batch)
    assert calls == [["s0", "s1", "s4"]]
    assert out["sample_id"] == ["s0", "s1", "s2", "s3", "s4"] and out["video_id"][2] == "v2"
    assert out["objects"][2] == out["objects"][0] and out["keyframes"][2] == out["keyframes"][0]
    assert out["status"][3] == STATUS_ERROR and out["error_message"][3].startswith("s3: ")
    dsg.validate(pa.Table.from_pydict(out, schema=dsg.SCHEMA))
