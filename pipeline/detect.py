"""Detect stage: an ultralytics YOLO detector loaded from a weights path, run in batches over keyframes.

Any ultralytics detection checkpoint works (`yolov8n.pt`, `yolo11x.pt`, a YOLO-World model, the project's demo
detector `pipeline/demo/weights/shapes_yolov8n.pt`). The path must exist: a missing or unreadable file is an error at
construction, and nothing is ever fetched from a hub.

`Detector(...)(batch)` reads the `frames` column that `pipeline.decode.Decoder` adds and adds `detections`: per row
one `Detections` per keyframe (class ids, scores, boxes normalised to the frame's width and height).
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.common import STATUS_OK


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # (n, 4) float32, [x1, y1, x2, y2] normalised to [0, 1]
    scores: np.ndarray  # (n,) float32
    class_ids: np.ndarray  # (n,) int32

    def __len__(self) -> int:
        return len(self.scores)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Detector:
    """YOLO inference on RGB uint8 frames: `detect(frames) -> list[Detections]`, one per frame."""

    def __init__(self, weights: str, device: str = "cpu", imgsz: int = 640, conf: float = 0.25, iou: float = 0.7,
                 max_det: int = 50, batch_size: int = 32, half: bool = False, agnostic_nms: bool = True):
        path = Path(weights)
        # Checked before ultralytics sees the name: it would try to download a missing "yolov8n.pt" from its hub.
        if not path.is_file():
            raise FileNotFoundError(
                f"Detector weights not found: '{weights}'. Expected a local ultralytics checkpoint (.pt) such as "
                "pipeline/demo/weights/shapes_yolov8n.pt; nothing is downloaded. Pass the path of a file that exists.")
        from ultralytics import YOLO

        try:
            self.model = YOLO(str(path))
        except Exception as exc:  # ultralytics and torch raise many types for a bad checkpoint; all mean the same
            raise ValueError(f"Detector weights '{weights}' could not be loaded by ultralytics "
                             f"({type(exc).__name__}: {exc}). Expected an ultralytics detection checkpoint; "
                             "retrain or re-export it.") from exc
        if self.model.task != "detect":
            raise ValueError(f"Detector weights '{weights}' hold a '{self.model.task}' model; expected a 'detect' "
                             "model (a YOLO detection or YOLO-World checkpoint).")
        self.weights = str(path)
        self.sha256 = file_sha256(path)
        self.names = dict(self.model.names)
        self.device = device
        self.imgsz = imgsz
        self.conf = conf
        self.iou = iou
        self.max_det = max_det
        self.batch_size = batch_size
        self.half = half
        # One box per region: a scene graph gains nothing from a second, lower-scored class on the same object.
        self.agnostic_nms = agnostic_nms

    @property
    def info(self) -> dict:
        return {"weights": self.weights, "sha256": self.sha256}

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        """Detections for each RGB uint8 frame (any sizes), in `batch_size` chunks."""
        detections = []
        for first in range(0, len(frames), self.batch_size):
            # ultralytics reads numpy images as BGR (OpenCV order), decord gives RGB.
            chunk = [np.ascontiguousarray(frame[..., ::-1]) for frame in frames[first:first + self.batch_size]]
            options = {"half": True} if self.half else {}  # passing half=False warns in ultralytics 8.4
            results = self.model.predict(chunk, imgsz=self.imgsz, conf=self.conf, iou=self.iou, max_det=self.max_det,
                                         agnostic_nms=self.agnostic_nms, device=self.device, verbose=False, **options)
            for result in results:
                boxes = result.boxes
                detections.append(Detections(
                    boxes=boxes.xyxyn.cpu().numpy().astype(np.float32).clip(0.0, 1.0),
                    scores=boxes.conf.cpu().numpy().astype(np.float32),
                    class_ids=boxes.cls.cpu().numpy().astype(np.int32),
                ))
        return detections

    def __call__(self, batch: dict) -> dict:
        out = dict(batch)
        rows = [i for i, status in enumerate(batch["status"]) if status == STATUS_OK]
        frames = [frame for i in rows for frame in batch["frames"][i]]
        flat = self.detect(frames)
        out["detections"] = [[] for _ in batch["status"]]
        position = 0
        for i in rows:
            count = len(batch["frames"][i])
            out["detections"][i] = flat[position:position + count]
            position += count
        return out
