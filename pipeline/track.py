"""Link stage: give the same object one track id across the sparse keyframes of a segment.

Keyframes lie far apart in time (about half a second), so ultralytics' frame-to-frame trackers, tuned for
consecutive video frames, do not fit; instead each keyframe's detections are matched to the tracks seen so far by
Hungarian matching (scipy) on a cost that adds
  (1 - IoU of the track's box moved by its last velocity) + centre distance / gate + appearance distance,
allowing only pairs of the same class whose centre lies within the gate `max_speed * dt + margin`. A track that was
not seen in the previous keyframe (it left, or was missed) may also be matched anywhere in the frame when its
appearance (a hue-saturation histogram) is close enough: objects that leave and come back keep their id.

`temporal_links` joins each track's consecutive appearances (the DSG's temporal edges).
"""

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from pipeline.boxes import box_centers, box_iou, central_crop
from schemas.common import STATUS_OK

FORBIDDEN = 1e6


def appearance_features(frame: np.ndarray, boxes: np.ndarray, bins: tuple[int, int] = (12, 4)) -> np.ndarray:
    """An L1-normalised hue x saturation histogram of the central half of each normalised box of an RGB frame."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    features = np.zeros((len(boxes), bins[0] * bins[1]), dtype=np.float32)
    for i, box in enumerate(boxes):
        crop = central_crop(hsv, box)
        if crop.size:
            histogram = cv2.calcHist([crop], [0, 1], None, list(bins), [0, 180, 0, 256]).ravel()
            features[i] = histogram / max(histogram.sum(), 1.0)
    return features


@dataclass
class Track:
    track_id: int
    class_id: int
    box: np.ndarray
    time: float
    keyframe: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    feature: np.ndarray | None = None


class TrackLinker:
    """`link(...)` gives track ids to one segment's detections; `TrackLinker()(batch)` adds a `track_ids` column."""

    def __init__(self, max_speed: float = 1.0, gate_margin: float = 0.1, appearance_weight: float = 1.0,
                 reid_distance: float = 0.3, use_appearance: bool = True):
        self.max_speed = max_speed
        self.gate_margin = gate_margin
        self.appearance_weight = appearance_weight
        self.reid_distance = reid_distance
        self.use_appearance = use_appearance

    def link(self, boxes: list[np.ndarray], class_ids: list[np.ndarray], times: list[float],
             features: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Track ids (int32, one array per keyframe, aligned with its boxes), numbered from 0 by first appearance."""
        tracks: list[Track] = []
        track_ids = []
        for k, (frame_boxes, frame_classes, time) in enumerate(zip(boxes, class_ids, times)):
            frame_boxes = np.asarray(frame_boxes, dtype=np.float64).reshape(-1, 4)
            frame_features = features[k] if features is not None else None
            ids = np.full(len(frame_boxes), -1, dtype=np.int32)
            if tracks and len(frame_boxes):
                cost = self.cost(tracks, frame_boxes, np.asarray(frame_classes), time, k, frame_features)
                for t, d in zip(*linear_sum_assignment(cost)):
                    if cost[t, d] < FORBIDDEN:
                        ids[d] = tracks[t].track_id
                        self.update(tracks[t], frame_boxes[d], time, k, frame_features, d)
            for d in np.flatnonzero(ids < 0):
                track = Track(len(tracks), int(frame_classes[d]), frame_boxes[d], time, k,
                              feature=None if frame_features is None else frame_features[d])
                tracks.append(track)
                ids[d] = track.track_id
            track_ids.append(ids)
        return track_ids

    def cost(self, tracks: list[Track], boxes: np.ndarray, classes: np.ndarray, time: float, keyframe: int,
             features: np.ndarray | None) -> np.ndarray:
        dt = np.array([max(time - track.time, 1e-6) for track in tracks])
        shift = np.stack([track.velocity for track in tracks]) * dt[:, None]
        predicted = np.stack([track.box for track in tracks]) + np.concatenate([shift, shift], axis=1)
        iou = box_iou(predicted, boxes)
        distance = np.linalg.norm(box_centers(predicted)[:, None] - box_centers(boxes)[None], axis=2)
        gate = self.max_speed * dt[:, None] + self.gate_margin
        cost = (1.0 - iou) + np.minimum(distance / gate, 1.0)
        allowed = distance <= gate
        if self.use_appearance and features is not None:
            track_features = np.stack([track.feature for track in tracks])
            appearance = 0.5 * np.abs(track_features[:, None] - features[None]).sum(axis=2)
            cost = cost + self.appearance_weight * appearance
            lost = np.array([track.keyframe < keyframe - 1 for track in tracks])
            allowed |= lost[:, None] & (appearance <= self.reid_distance)
        allowed &= np.array([track.class_id for track in tracks])[:, None] == classes[None]
        return np.where(allowed, cost, FORBIDDEN)

    def update(self, track: Track, box: np.ndarray, time: float, keyframe: int, features: np.ndarray | None,
               index: int) -> None:
        dt = max(time - track.time, 1e-6)
        displacement = box_centers(box[None])[0] - box_centers(track.box[None])[0]
        # After a gap the object may have left and come back elsewhere: that jump is not a velocity.
        track.velocity = displacement / dt if keyframe == track.keyframe + 1 else np.zeros(2)
        track.box, track.time, track.keyframe = box, time, keyframe
        if features is not None:
            track.feature = features[index]

    def __call__(self, batch: dict) -> dict:
        out = dict(batch)
        out["track_ids"] = [[] for _ in batch["status"]]
        for i, status in enumerate(batch["status"]):
            if status != STATUS_OK:
                continue
            detections = batch["detections"][i]
            features = None
            if self.use_appearance:
                features = [appearance_features(frame, d.boxes) for frame, d in zip(batch["frames"][i], detections)]
            out["track_ids"][i] = self.link([d.boxes for d in detections], [d.class_ids for d in detections],
                                            batch["frame_times"][i], features)
        return out


def temporal_links(frames: list[int], track_ids: list[int]) -> list[tuple[int, int]]:
    """(source, target) object indices joining each track's appearances in consecutive order of keyframes."""
    links = []
    last_seen: dict[int, int] = {}
    for index in sorted(range(len(frames)), key=lambda i: frames[i]):
        track = track_ids[index]
        if track in last_seen and frames[last_seen[track]] < frames[index]:
            links.append((last_seen[track], index))
        last_seen[track] = index
    return links
