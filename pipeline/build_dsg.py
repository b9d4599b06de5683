"""The DSG stage: decode -> detect -> colour attributes -> link -> relate -> JPEG keyframes, one row per sample.

`DSGBuilder(weights=...)(batch)` takes the columns of `schemas.common.SAMPLE_SCHEMA` and returns exactly
`schemas.dsg.SCHEMA.names`. The detector loads once, in `__init__`; decoding the next group of videos runs in a
background thread while the detector works on the current one, so the stage costs about as much as the slower of
the two.
"""

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from pipeline.attributes import color_attributes
from pipeline.decode import Decoder, resize_long_side
from pipeline.detect import Detector
from pipeline.relations import MLPRelationHead, Relater, Thresholds
from pipeline.track import TrackLinker, temporal_links
from schemas import dsg
from schemas.common import STATUS_OK


def encode_jpeg(frame: np.ndarray, long_side: int, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB frame shrunk to `long_side`."""
    ok, encoded = cv2.imencode(".jpg", resize_long_side(frame, long_side)[..., ::-1],
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cv2.imencode could not encode a frame of shape {frame.shape} as JPEG.")
    return encoded.tobytes()


class DSGBuilder:
    """The dynamic scene graph of each caption segment (see the module docstring)."""

    def __init__(self, weights: str, device: str = "cpu", num_frames: int = 8, sample_fps: float | None = None,
                 imgsz: int = 640, conf: float = 0.25, iou: float = 0.7, max_det: int = 50, batch_size: int = 32,
                 keyframe_size: int = 256, agnostic_nms: bool = True, jpeg_quality: int = 90, attributes: bool = True,
                 use_appearance: bool = True, max_speed: float = 1.0, gate_margin: float = 0.1,
                 appearance_weight: float = 1.0, reid_distance: float = 0.3, decode_threads: int = 1,
                 horizontal: float = 0.1, vertical: float = 0.1, near: float = 0.25, inside: float = 0.9,
                 depth: float = 0.02, motion: float = 0.05, relation_head: str | None = None,
                 relation_head_threshold: float = 0.5, max_relations_per_frame: int = 300,
                 prefetch: bool = True):
        self.detector = Detector(weights, device=device, imgsz=imgsz, conf=conf, iou=iou, max_det=max_det,
                                 batch_size=batch_size, agnostic_nms=agnostic_nms)
        self.decoder = Decoder(num_frames=num_frames, sample_fps=sample_fps, max_side=imgsz,
                               num_threads=decode_threads)
        self.linker = TrackLinker(max_speed=max_speed, gate_margin=gate_margin, appearance_weight=appearance_weight,
                                  reid_distance=reid_distance, use_appearance=use_appearance)
        head = MLPRelationHead.load(relation_head) if relation_head else None
        self.relater = Relater(Thresholds(horizontal, vertical, near, inside, depth, motion), head=head,
                               head_threshold=relation_head_threshold,
                               max_relations_per_frame=max_relations_per_frame)
        self.keyframe_size = keyframe_size
        self.jpeg_quality = jpeg_quality
        self.attributes = attributes
        self.prefetch = prefetch

    @property
    def detector_info(self) -> dict:
        return self.detector.info

    def __call__(self, batch: dict) -> dict:
        """DSG rows for a batch; captions of the same clip segment (MSR-VTT has 20 per video) share one build."""
        rows = len(batch["sample_id"])
        keys = [(str(p), float(s), float(e)) if status == STATUS_OK else i
                for i, (p, s, e, status) in enumerate(zip(batch["video_path"], batch["start"], batch["end"],
                                                           batch["status"]))]
        first = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        if len(first) == rows:
            return self.build(batch)
        unique = sorted(first.values())
        built = self.build({name: [values[i] for i in unique] for name, values in batch.items()})
        position = {i: k for k, i in enumerate(unique)}
        out = {name: [] for name in dsg.SCHEMA.names}
        for i, key in enumerate(keys):
            k = position[first[key]]
            for name in dsg.SCHEMA.names:
                out[name].append(built[name][k])
            for name in ("sample_id", "video_id", "split"):
                out[name][-1] = batch[name][i]
            message = out["error_message"][-1]
            if message and message.startswith(f"{built['sample_id'][k]}: "):
                out["error_message"][-1] = f"{batch['sample_id'][i]}: " + message.split(": ", 1)[1]
        return out

    def build(self, batch: dict) -> dict:
        rows = len(batch["sample_id"])
        order = list(dict.fromkeys(str(path) for path in batch["video_path"]))
        chunks = [[i for i in range(rows) if str(batch["video_path"][i]) == path] for path in order]
        # Group rows into chunks of about `batch_size` frames so the detector sees full batches.
        groups, current, frames = [], [], 0
        for chunk in chunks:
            current += chunk
            frames += len(chunk) * self.decoder.num_frames
            if frames >= self.detector.batch_size:
                groups.append(current)
                current, frames = [], 0
        if current:
            groups.append(current)
        out = {name: [None] * rows for name in dsg.SCHEMA.names}
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.decode_rows, batch, groups[0]) if groups and self.prefetch else None
            for g, group in enumerate(groups):
                decoded = pending.result() if self.prefetch else self.decode_rows(batch, group)
                if self.prefetch and g + 1 < len(groups):
                    pending = pool.submit(self.decode_rows, batch, groups[g + 1])
                for i, row in zip(group, self.build_rows(decoded)):
                    for name in dsg.SCHEMA.names:
                        out[name][i] = row[name]
        return out

    def decode_rows(self, batch: dict, rows: list[int]) -> dict:
        return self.decoder({key: [values[i] for i in rows] for key, values in batch.items()})

    def build_rows(self, decoded: dict) -> list[dict]:
        detected = self.detector(decoded)
        linked = self.linker(detected)
        rows = []
        for i in range(len(linked["sample_id"])):
            row = {name: linked[name][i] for name in ("sample_id", "video_id", "split", "video_path", "status",
                                                       "error_message")}
            row.update(start=float(linked["start"][i]), end=float(linked["end"][i]), frame_width=None,
                       frame_height=None, frame_times=[], keyframes=[], objects=[], relations=[],
                       temporal_links=[])
            if row["status"] == STATUS_OK:
                row["error_message"] = None
                row.update(self.graph(linked["frames"][i], linked["frame_times"][i], linked["detections"][i],
                                      linked["track_ids"][i]))
                row.update(frame_width=linked["frame_width"][i], frame_height=linked["frame_height"][i])
            rows.append(row)
        return rows

    def graph(self, frames, times, detections, track_ids) -> dict:
        objects = []
        for k, (frame, found, ids) in enumerate(zip(frames, detections, track_ids)):
            attributes = color_attributes(frame, found.boxes) if self.attributes else [[] for _ in ids]
            for box, score, class_id, track_id, attrs in zip(found.boxes, found.scores, found.class_ids, ids,
                                                             attributes):
                objects.append({"frame": k, "track_id": int(track_id), "class_id": int(class_id),
                                "class_name": self.detector.names.get(int(class_id), str(class_id)),
                                "score": float(score), "box": [float(v) for v in box], "attributes": attrs})
        links = temporal_links([o["frame"] for o in objects], [o["track_id"] for o in objects])
        return {
            "frame_times": list(times),
            "keyframes": [encode_jpeg(frame, self.keyframe_size, self.jpeg_quality) for frame in frames],
            "objects": objects,
            "relations": self.relater.relate(objects, list(times)),
            "temporal_links": [{"source": s, "target": t} for s, t in links],
        }
