import hashlib

import numpy as np
import pytest

from pipeline.detect import Detector
from schemas.common import STATUS_ERROR, STATUS_OK


def test_missing_weights_fail_before_ultralytics_is_asked(tmp_path, monkeypatch):
    import ultralytics

    monkeypatch.setattr(ultralytics, "YOLO", lambda *a, **k: pytest.fail("ultralytics must not see a missing file"))
    with pytest.raises(FileNotFoundError, match="yolov8n.pt"):
        Detector(str(tmp_path / "yolov8n.pt"))


def test_unreadable_weights_are_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="could not be loaded"):
        Detector(str(bad))


def test_detections_are_normalised_batched_and_capped(random_yolo_weights):
    detector = Detector(str(random_yolo_weights), imgsz=160, conf=1e-6, max_det=7, batch_size=2)
    assert detector.info == {"weights": str(random_yolo_weights),
                             "sha256": hashlib.sha256(random_yolo_weights.read_bytes()).hexdigest()}
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(5)]
    detections = detector.detect(frames)
    assert len(detections) == 5
    assert any(len(d) for d in detections)
    for d in detections:
        assert len(d) <= 7 and d.boxes.shape == (len(d), 4)
        assert ((d.boxes >= 0) & (d.boxes <= 1)).all()
        assert (d.boxes[:, 2:] >= d.boxes[:, :2]).all()
        assert ((d.scores >= 1e-6) & (d.scores <= 1)).all()
        assert all(int(c) in detector.names for c in d.class_ids)


def test_frames_reach_ultralytics_in_bgr_and_rows_keep_their_frames(random_yolo_weights):
    detector = Detector(str(random_yolo_weights), imgsz=160, batch_size=3)
    seen = []

    def fake_predict(images, **kwargs):
        seen.extend(images)
        return detector.model.__class__.predict(detector.model, images, **kwargs)

    detector.model.predict = fake_predict
    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[..., 0] = 255
    batch = {"status": [STATUS_OK, STATUS_ERROR, STATUS_OK], "frames": [np.stack([rgb] * 2), None, rgb[None]]}
    out = detector(batch)
    assert len(seen) == 3 and (seen[0][..., 2] == 255).all() and (seen[0][..., 0] == 0).all()
    assert [len(d) for d in out["detections"]] == [2, 0, 1]


@pytest.mark.gpu
def test_gpu_and_cpu_find_the_same_boxes(random_yolo_weights):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    frames = [np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)]
    cpu = Detector(str(random_yolo_weights), imgsz=160, conf=1e-6, device="cpu").detect(frames)[0]
    gpu = Detector(str(random_yolo_weights), imgsz=160, conf=1e-6, device="cuda:0").detect(frames)[0]
    assert len(gpu) == len(cpu) and np.allclose(gpu.boxes, cpu.boxes, atol=1e-3)
