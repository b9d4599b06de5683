"""Relate stage: per-keyframe relations between the objects of a segment's DSG.

Rules, following the project's relation vocabulary (the demo's ground truth uses the same definitions).
Boxes are normalised [x1, y1, x2, y2], y grows downward; A is the subject, B the object; thresholds are settings.
  geometric   "left of" / "right of" (centre x differs by > 0.1), "above" / "below" (centre y, > 0.1),
              "near" (centre distance < 0.25, neither box inside the other), "touching" (the boxes intersect,
              neither inside the other), "inside" (the intersection covers >= 90 % of A and A is smaller than B),
              "in front of" / "behind" (the boxes intersect and A's bottom edge is lower / higher by > 0.02)
  motion      velocity = centre displacement between the track's previous and next appearances / their time apart
              (one-sided at the ends); "moves left/right/up/down" (|component| > 0.05 per second);
              "approaches" / "moves away from" B: A moves, points towards / away from B, and the centre distance
              falls / grows faster than 0.05 per second
  events      "appears": visible in a keyframe and not in the one before; "disappears": visible and not in the next
Score in [0, 1]: how far past its threshold the predicate holds, 0.5 + 0.5 * margin / threshold clipped to 1 (1 for
"touching" and "inside"), times the detection score of A (and the geometric mean with B's for pairs).

A learned predictor plugs in as a `RelationHead`: any callable mapping pair features (`pair_features`, one row per
ordered pair of objects in a keyframe) to scores per predicate. `MLPRelationHead` is one, trained from ground-truth
relation triples with `fit_relation_head` (Action Genome style annotations converted to the demo's frame format).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from pipeline.boxes import box_area, center, intersection_area
from schemas.common import STATUS_OK

GEOMETRIC_PREDICATES = ("left of", "right of", "above", "below", "near", "touching", "inside", "in front of",
                        "behind")
MOTION_PAIR_PREDICATES = ("approaches", "moves away from")
MOTION_UNARY_PREDICATES = ("moves left", "moves right", "moves up", "moves down")
EVENT_PREDICATES = ("appears", "disappears")
PAIR_PREDICATES = GEOMETRIC_PREDICATES + MOTION_PAIR_PREDICATES
UNARY_PREDICATES = MOTION_UNARY_PREDICATES + EVENT_PREDICATES
FEATURE_NAMES = ("dx", "dy", "distance", "width_a", "height_a", "width_b", "height_b", "log_area_ratio", "iou",
                 "covered_a", "covered_b", "bottom_difference", "vx_a", "vy_a", "vx_b", "vy_b", "distance_rate",
                 "heading_a")


@dataclass(frozen=True)
class Thresholds:
    horizontal: float = 0.1
    vertical: float = 0.1
    near: float = 0.25
    inside: float = 0.9
    depth: float = 0.02
    motion: float = 0.05


def margin_score(margin: float, threshold: float) -> float:
    return float(min(1.0, 0.5 + 0.5 * margin / threshold)) if threshold > 0 else 1.0


def is_inside(a, b, threshold: float = 0.9) -> bool:
    area_a = box_area(a)
    return area_a > 0 and intersection_area(a, b) >= threshold * area_a and area_a < box_area(b)


def geometric_relations(a, b, t: Thresholds = Thresholds()) -> dict[str, float]:
    """Predicates that hold for subject box `a` and object box `b`, each with its margin score."""
    found = {}
    ca, cb = center(a), center(b)
    if cb[0] - ca[0] > t.horizontal:
        found["left of"] = margin_score(cb[0] - ca[0] - t.horizontal, t.horizontal)
    if ca[0] - cb[0] > t.horizontal:
        found["right of"] = margin_score(ca[0] - cb[0] - t.horizontal, t.horizontal)
    if cb[1] - ca[1] > t.vertical:
        found["above"] = margin_score(cb[1] - ca[1] - t.vertical, t.vertical)
    if ca[1] - cb[1] > t.vertical:
        found["below"] = margin_score(ca[1] - cb[1] - t.vertical, t.vertical)
    a_in_b, b_in_a = is_inside(a, b, t.inside), is_inside(b, a, t.inside)
    distance = float(np.linalg.norm(cb - ca))
    if distance < t.near and not (a_in_b or b_in_a):
        found["near"] = margin_score(t.near - distance, t.near)
    intersects = intersection_area(a, b) > 0
    if intersects and not (a_in_b or b_in_a):
        found["touching"] = 1.0
    if a_in_b:
        found["inside"] = 1.0
    if intersects and a[3] - b[3] > t.depth:
        found["in front of"] = margin_score(a[3] - b[3] - t.depth, t.depth)
    if intersects and b[3] - a[3] > t.depth:
        found["behind"] = margin_score(b[3] - a[3] - t.depth, t.depth)
    return found


def unary_motion(velocity, t: Thresholds = Thresholds()) -> dict[str, float]:
    vx, vy = velocity
    found = {}
    for predicate, value in (("moves left", -vx), ("moves right", vx), ("moves up", -vy), ("moves down", vy)):
        if value > t.motion:
            found[predicate] = margin_score(value - t.motion, t.motion)
    return found


def distance_rate(a, b, velocity_a, velocity_b) -> float:
    """d/dt of the centre distance between boxes a and b moving with the given centre velocities."""
    offset = center(a) - center(b)
    distance = float(np.linalg.norm(offset))
    if distance == 0:
        return 0.0
    return float(offset @ (np.asarray(velocity_a) - np.asarray(velocity_b))) / distance


def pair_motion(a, b, velocity_a, velocity_b, t: Thresholds = Thresholds()) -> dict[str, float]:
    velocity_a = np.asarray(velocity_a, dtype=float)
    if np.linalg.norm(velocity_a) <= t.motion:
        return {}
    heading = float(velocity_a @ (center(b) - center(a)))
    rate = distance_rate(a, b, velocity_a, velocity_b)
    if heading > 0 and rate < -t.motion:
        return {"approaches": margin_score(-rate - t.motion, t.motion)}
    if heading < 0 and rate > t.motion:
        return {"moves away from": margin_score(rate - t.motion, t.motion)}
    return {}


def pair_features(a, b, velocity_a, velocity_b) -> np.ndarray:
    """The FEATURE_NAMES vector of an ordered pair of boxes (subject a, object b) and their centre velocities."""
    ca, cb = center(a), center(b)
    area_a, area_b = box_area(a), box_area(b)
    inter = intersection_area(a, b)
    union = area_a + area_b - inter
    velocity_a, velocity_b = np.asarray(velocity_a, dtype=float), np.asarray(velocity_b, dtype=float)
    return np.array([
        cb[0] - ca[0], cb[1] - ca[1], np.linalg.norm(cb - ca), a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1],
        np.log((area_a + 1e-6) / (area_b + 1e-6)), inter / union if union > 0 else 0.0,
        inter / area_a if area_a > 0 else 0.0, inter / area_b if area_b > 0 else 0.0, a[3] - b[3],
        velocity_a[0], velocity_a[1], velocity_b[0], velocity_b[1], distance_rate(a, b, velocity_a, velocity_b),
        float(velocity_a @ (cb - ca)),
    ], dtype=np.float32)


def track_velocities(frames: list[int], track_ids: list[int], boxes: list, times: list[float]) -> list:
    """Centre velocity of each object from its track's previous and next appearances; None for a track seen once."""
    by_track: dict[int, list[int]] = {}
    for index in sorted(range(len(frames)), key=lambda i: frames[i]):
        by_track.setdefault(track_ids[index], []).append(index)
    velocities = [None] * len(frames)
    for indices in by_track.values():
        for position, index in enumerate(indices):
            before = indices[max(position - 1, 0)]
            after = indices[min(position + 1, len(indices) - 1)]
            dt = times[frames[after]] - times[frames[before]]
            if before != after and dt > 0:
                velocities[index] = (center(boxes[after]) - center(boxes[before])) / dt
    return velocities


class RelationHead(Protocol):
    """A learned relation predictor: `predicates` names its outputs; `__call__` maps (P, len(FEATURE_NAMES)) pair
    features to (P, len(predicates)) scores in [0, 1]."""

    predicates: tuple[str, ...]

    def __call__(self, features: np.ndarray) -> np.ndarray: ...


class Relater:
    """`relate(objects, frame_times)` -> relation dicts; `Relater()(batch)` adds a `relations` column computed from
    the DSG `objects` and `frame_times` columns. With a `head`, pair predicates come from it (scores >=
    `head_threshold`) and unary ones from the rules."""

    def __init__(self, thresholds: Thresholds = Thresholds(), head: RelationHead | None = None,
                 head_threshold: float = 0.5, max_relations_per_frame: int = 300):
        self.thresholds = thresholds
        self.head = head
        self.head_threshold = head_threshold
        self.max_relations_per_frame = max_relations_per_frame

    def relate(self, objects: list[dict], frame_times: list[float]) -> list[dict]:
        frames = [obj["frame"] for obj in objects]
        track_ids = [obj["track_id"] for obj in objects]
        boxes = [obj["box"] for obj in objects]
        scores = [float(obj["score"]) for obj in objects]
        velocities = track_velocities(frames, track_ids, boxes, frame_times)
        visible = {(f, track) for f, track in zip(frames, track_ids)}
        relations = []
        for frame in range(len(frame_times)):
            members = [i for i, f in enumerate(frames) if f == frame]
            found = []
            for i in members:
                unary = unary_motion(velocities[i], self.thresholds) if velocities[i] is not None else {}
                if frame > 0 and (frame - 1, track_ids[i]) not in visible:
                    unary["appears"] = 1.0
                if frame < len(frame_times) - 1 and (frame + 1, track_ids[i]) not in visible:
                    unary["disappears"] = 1.0
                found += [(i, None, predicate, score * scores[i]) for predicate, score in unary.items()]
            pairs = [(i, j) for i in members for j in members if i != j and track_ids[i] != track_ids[j]]
            found += self.pair_relations(pairs, boxes, velocities, scores)
            found.sort(key=lambda relation: -relation[3])
            relations += [{"frame": frame, "subject": i, "object": j, "predicate": predicate, "score": float(score)}
                          for i, j, predicate, score in found[:self.max_relations_per_frame]]
        return relations

    def pair_relations(self, pairs, boxes, velocities, scores) -> list[tuple]:
        still = np.zeros(2)
        found = []
        if self.head is not None and pairs:
            features = np.stack([pair_features(boxes[i], boxes[j], velocities[i] if velocities[i] is not None
                                               else still, velocities[j] if velocities[j] is not None else still)
                                 for i, j in pairs])
            predicted = np.asarray(self.head(features))
            for (i, j), row in zip(pairs, predicted):
                found += [(i, j, predicate, float(score)) for predicate, score in zip(self.head.predicates, row)
                          if score >= self.head_threshold]
            return found
        for i, j in pairs:
            pair = geometric_relations(boxes[i], boxes[j], self.thresholds)
            if velocities[i] is not None:
                pair.update(pair_motion(boxes[i], boxes[j], velocities[i],
                                        velocities[j] if velocities[j] is not None else still, self.thresholds))
            confidence = float(np.sqrt(scores[i] * scores[j]))
            found += [(i, j, predicate, score * confidence) for predicate, score in pair.items()]
        return found

    def __call__(self, batch: dict) -> dict:
        out = dict(batch)
        out["relations"] = [
            self.relate(objects, times) if status == STATUS_OK else []
            for objects, times, status in zip(batch["objects"], batch["frame_times"], batch["status"])
        ]
        return out


class MLPRelationHead(nn.Module):
    """A RelationHead: a two-layer MLP over `pair_features` -> one sigmoid score per predicate.
    Input (P, len(FEATURE_NAMES)) float32, output (P, len(predicates)) in [0, 1]."""

    def __init__(self, predicates: tuple[str, ...] = PAIR_PREDICATES, hidden: int = 64):
        super().__init__()
        self.predicates = tuple(predicates)
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(len(FEATURE_NAMES), hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, len(self.predicates)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)

    def __call__(self, features):
        if isinstance(features, torch.Tensor):
            return super().__call__(features)
        with torch.no_grad():
            return torch.sigmoid(super().__call__(torch.as_tensor(features, dtype=torch.float32))).numpy()

    def save(self, path: str | Path) -> None:
        torch.save({"predicates": list(self.predicates), "hidden": self.hidden, "state_dict": self.state_dict()},
                   path)

    @classmethod
    def load(cls, path: str | Path) -> "MLPRelationHead":
        if not Path(path).is_file():
            raise FileNotFoundError(f"Relation head weights not found: '{path}'. Train one with "
                                    "pipeline.relations.fit_relation_head(...).save(path) or pass no head.")
        saved = torch.load(path, weights_only=True)
        head = cls(tuple(saved["predicates"]), saved["hidden"])
        head.load_state_dict(saved["state_dict"])
        return head.eval()


def relation_training_data(frames: list[dict], predicates: tuple[str, ...] = PAIR_PREDICATES
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Pair features and 0/1 labels from annotated frames: each frame {"objects": [{"track_id", "box",
    "velocity"}], "relations": [{"subject", "predicate", "object"}]} (the demo ground truth's frame format).
    Every ordered pair of a frame's objects is one example; its labels are the predicates annotated for it."""
    features, labels = [], []
    for frame in frames:
        objects = {obj["track_id"]: obj for obj in frame["objects"]}
        annotated = {(r["subject"], r["object"], r["predicate"]) for r in frame["relations"]}
        for a in objects.values():
            for b in objects.values():
                if a["track_id"] == b["track_id"]:
                    continue
                features.append(pair_features(a["box"], b["box"], a.get("velocity", (0, 0)),
                                              b.get("velocity", (0, 0))))
                labels.append([float((a["track_id"], b["track_id"], p) in annotated) for p in predicates])
    return (np.array(features, dtype=np.float32).reshape(-1, len(FEATURE_NAMES)),
            np.array(labels, dtype=np.float32).reshape(-1, len(predicates)))


def fit_relation_head(features: np.ndarray, labels: np.ndarray, predicates: tuple[str, ...] = PAIR_PREDICATES,
                      hidden: int = 64, epochs: int = 300, lr: float = 1e-2, seed: int = 0) -> MLPRelationHead:
    """Train an MLPRelationHead with binary cross-entropy on full-batch Adam steps."""
    if len(features) == 0:
        raise ValueError("fit_relation_head got no training pairs; expected frames with at least two objects.")
    torch.manual_seed(seed)
    head = MLPRelationHead(predicates, hidden)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.float32)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(head(x), y)
        loss.backward()
        optimizer.step()
    return head.eval()


def main(argv=None) -> int:
    """Fit an MLPRelationHead on the ground truth of a dataset in the demo's layout and save it."""
    import argparse

    from pipeline.demo import layout

    parser = argparse.ArgumentParser(description="Train the MLP relation head from ground-truth relation triples: "
                                                 "the ground-truth frames of the train videos of a dataset in the "
                                                 "demo's layout (pipeline/demo/layout.py); F1 is reported on its "
                                                 "val videos.")
    parser.add_argument("--data-root", required=True, help="a dataset folder in the demo's layout")
    parser.add_argument("--out", required=True, help="where to save the head (.pt)")
    parser.add_argument("--every", type=int, default=5, help="use every n-th frame")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args(argv)
    frames = {split: [frame for video in sorted(layout.video_ids(args.data_root, split))
                      for frame in layout.read_ground_truth(args.data_root, video)["frames"][::args.every]]
              for split in ("train", "val")}
    features, labels = relation_training_data(frames["train"])
    print(f"[relation-head] {len(features)} training pairs from {len(frames['train'])} frames", flush=True)
    head = fit_relation_head(features, labels, hidden=args.hidden, epochs=args.epochs)
    head.save(args.out)
    features, labels = relation_training_data(frames["val"])
    predicted = head(features) >= 0.5
    print("| predicate | F1 on val videos | positives |\n|---|---|---|")
    for p, predicate in enumerate(head.predicates):
        tp = float((predicted[:, p] & (labels[:, p] > 0)).sum())
        f1 = 2 * tp / max(predicted[:, p].sum() + (labels[:, p] > 0).sum(), 1)
        print(f"| {predicate} | {f1:.3f} | {int((labels[:, p] > 0).sum())} |")
    print(f"[relation-head] saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
