"""The demo dataset: short rendered videos of coloured shapes with ground truth and ActivityNet-style captions.

Usage: python -m pipeline.demo.generate --out data/demo [--num-videos 40 --val-fraction 0.25 --seed 0]
       python -m pipeline.demo.generate --out data/demo-bench --benchmark      # the benchmark's size (BENCHMARK)

Each video is simulated first (a script of events: moves, approaches, passes, appearances, disappearances), then
rendered frame by frame. Boxes come from the rendered pixels and relations from the true scene state, following the
project's relation vocabulary; captions describe the scripted events and are checked against that ground truth.
Every video draws from its own generator seeded with (seed, video index), so the same seed gives the same files.
Each video belongs to one split (pipeline/demo/splits.py: train, dev, heldout-wording, heldout-composition), which
decides the wording of its captions and the compositions its scene and captions may show.
"""

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from pipeline.demo import captions, splits
from pipeline.demo import layout as demo_layout
from pipeline.demo.detection_data import export_yolo_dataset
from pipeline.relations import Thresholds, geometric_relations, pair_motion
from pipeline.relations import unary_motion as unary_motion_predicates
from schemas.common import make_sample_id

VERSION = "1"
SHAPES = ("circle", "square", "triangle", "star")
COLORS = {  # RGB
    "red": (220, 40, 40),
    "green": (30, 160, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 190, 20),
    "purple": (140, 50, 180),
}
BACKGROUND = (235, 235, 235)
SPEEDS = {"slow": (0.07, 0.10), "quick": (0.18, 0.26)}  # normalised units per second
FOURCC = "mp4v"  # what OpenCV's wheel writes and decord reads back

VOCABULARY = Thresholds()  # the relation vocabulary's default thresholds, as the pipeline uses them
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
MIN_EVENT_FRAMES = 8
EDGE_MARGIN_PX = 3


def setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DemoConfig:
    num_videos: int = setting(40, "videos in all splits together")
    val_fraction: float = setting(0.25, "share of the videos not trained on, when split_sizes is None")
    split_sizes: tuple[int, int, int] | None = setting(
        None, "videos of (dev, heldout-wording, heldout-composition), the rest train; None: the last "
              "round(num_videos * val_fraction) videos, dealt in turn to heldout-wording, heldout-composition, dev")
    seed: int = setting(0, "seed of every video and of the held-out compositions")
    width: int = setting(320, "frame width in pixels")
    height: int = setting(240, "frame height in pixels")
    fps: int = setting(10, "frames per second")
    min_seconds: float = setting(8.0, "shortest video")
    max_seconds: float = setting(12.0, "longest video")
    min_objects: int = setting(2, "fewest shapes in a video")
    max_objects: int = setting(4, "most shapes in a video (at most the number of shapes)")
    min_radius_px: int = setting(10, "smallest shape radius in pixels")
    max_radius_px: int = setting(30, "largest shape radius in pixels")
    detection_every: int = setting(10, "every n-th frame of each video goes into detection/")


# The benchmark's size: >= 100 clips in each held-out split, so one R@1 step is under one point.
BENCHMARK = DemoConfig(num_videos=640, split_sizes=(80, 120, 120))


def video_splits(cfg: DemoConfig) -> list[str]:
    """The split of each video index: train first, then the evaluation splits."""
    if cfg.split_sizes is None:
        num_val = min(max(1, round(cfg.num_videos * cfg.val_fraction)), cfg.num_videos - 1)
        order = (splits.HELDOUT_WORDING, splits.HELDOUT_COMPOSITION, splits.DEV)
        return [splits.TRAIN] * (cfg.num_videos - num_val) + [order[i % len(order)] for i in range(num_val)]
    sizes = tuple(cfg.split_sizes)
    if len(sizes) != 3 or min(sizes) < 0 or sum(sizes) >= cfg.num_videos:
        raise ValueError(f"split_sizes is {cfg.split_sizes}; expected three counts >= 0 (dev, heldout-wording, "
                         f"heldout-composition) that leave train videos of num_videos={cfg.num_videos}.")
    return [splits.TRAIN] * (cfg.num_videos - sum(sizes)) + [
        split for split, n in zip(splits.EVALUATION_SPLITS, sizes) for _ in range(n)]


def held_out_compositions(cfg: DemoConfig) -> splits.HeldOutCompositions:
    return splits.held_out_compositions(cfg.seed, SHAPES, COLORS)


def video_id_of(index: int) -> str:
    return f"v_demo_{index:04d}"


# ---------------------------------------------------------------- shapes and rendering


def _shape_mask(shape: str, cx: float, cy: float, r: float, width: int, height: int) -> np.ndarray:
    """A full-frame uint8 mask (255 inside) of `shape` centred at pixel (cx, cy) with outer radius r."""
    mask = np.zeros((height, width), np.uint8)
    if shape == "circle":
        cv2.circle(mask, (round(cx), round(cy)), round(r), 255, -1, cv2.LINE_8)
        return mask
    if shape == "square":
        angles, radii = np.deg2rad([45, 135, 225, 315]), [r * 1.2] * 4
    elif shape == "triangle":
        angles, radii = np.deg2rad([-90, 30, 150]), [r * 1.15] * 3
    elif shape == "star":
        angles = np.deg2rad(-90 + 36 * np.arange(10))
        radii = [r * 1.1, r * 0.47] * 5
    else:
        raise ValueError(f"unknown shape '{shape}', expected one of {SHAPES}")
    points = np.stack([cx + np.cos(angles) * radii, cy + np.sin(angles) * radii], axis=1)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255, cv2.LINE_8)
    return mask


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    x, y, w, h = cv2.boundingRect(mask)
    return None if w == 0 else (x, y, x + w, y + h)


def _centre_offset(shape: str, r: float) -> tuple[float, float]:
    """Pixel offset from a shape's drawing centre to its box centre (triangles and stars are not symmetric)."""
    size = int(4 * r) + 8
    x1, y1, x2, y2 = _box_of(_shape_mask(shape, size / 2, size / 2, r, size, size))
    return (x1 + x2) / 2 - size / 2, (y1 + y2) / 2 - size / 2


def render_video(tracks: list[dict], positions: np.ndarray, visible: np.ndarray, width: int, height: int):
    """Draw every frame; return (RGB frames, per-frame {track_id: (pixel box, visible fraction)}).

    `positions` are box centres in normalised units, shape (frames, tracks, 2). Shapes are drawn in order of their
    bottom edge, so the one lower on screen is in front (a 2.5-D ground plane).
    """
    frames, layouts = [], []
    offsets = [_centre_offset(t["shape"], t["radius_px"]) for t in tracks]
    for f in range(len(positions)):
        drawn = []
        for k, track in enumerate(tracks):
            if not visible[f, k]:
                continue
            cx = positions[f, k, 0] * width - offsets[k][0]
            cy = positions[f, k, 1] * height - offsets[k][1]
            mask = _shape_mask(track["shape"], cx, cy, track["radius_px"], width, height)
            box = _box_of(mask)
            if box is not None:
                drawn.append((box[3], k, mask, box))
        image = np.empty((height, width, 3), np.uint8)
        image[:] = BACKGROUND
        owner = np.full((height, width), -1, np.int16)
        for _, k, mask, _ in sorted(drawn, key=lambda d: (d[0], d[1])):
            inside = mask > 0
            image[inside] = COLORS[tracks[k]["color"]]
            owner[inside] = k
        layout = {}
        for _, k, mask, box in drawn:
            area = int(np.count_nonzero(mask))
            layout[k] = (box, int(np.count_nonzero(owner == k)) / area)
        frames.append(image)
        layouts.append(layout)
    return frames, layouts


# ---------------------------------------------------------------- relations (the vocabulary's definitions)


def pair_relations(box_a, box_b, velocity_a, velocity_b, thresholds: Thresholds = VOCABULARY) -> list[str]:
    """Predicates that hold for subject A and object B: the vocabulary's own definitions (pipeline/relations.py)
    applied to the true boxes and true velocities, so ground truth and pipeline cannot drift apart in meaning."""
    return [*geometric_relations(box_a, box_b, thresholds),
            *pair_motion(box_a, box_b, velocity_a, velocity_b, thresholds)]


def unary_motion(velocity, thresholds: Thresholds = VOCABULARY) -> list[str]:
    return list(unary_motion_predicates(velocity, thresholds))


def frame_relations(objects: list[dict], appearing: set, disappearing: set) -> list[dict]:
    """All relation triples of one frame; `objects` as in the ground truth (track_id, box, velocity)."""
    relations = []
    for a in objects:
        sid = a["track_id"]
        for predicate in unary_motion(a["velocity"]):
            relations.append({"subject": sid, "predicate": predicate, "object": None})
        if sid in appearing:
            relations.append({"subject": sid, "predicate": "appears", "object": None})
        if sid in disappearing:
            relations.append({"subject": sid, "predicate": "disappears", "object": None})
        for b in objects:
            if b["track_id"] == sid:
                continue
            for predicate in pair_relations(a["box"], b["box"], a["velocity"], b["velocity"]):
                relations.append({"subject": sid, "predicate": predicate, "object": b["track_id"]})
    return relations


# ---------------------------------------------------------------- scene simulation


class _Scene:
    """Positions (box centres, normalised), velocities and visibility of every track, filled frame by frame."""

    def __init__(self, tracks: list[dict], num_frames: int, cfg: DemoConfig):
        n = len(tracks)
        self.tracks, self.num_frames, self.fps = tracks, num_frames, cfg.fps
        self.pos = np.zeros((num_frames, n, 2))
        self.vel = np.zeros((num_frames, n, 2))
        self.visible = np.zeros((num_frames, n), bool)
        self.shown_once = np.zeros(n, bool)
        self.cur = 0
        self.half = [((t["radius_px"] * 1.2 + EDGE_MARGIN_PX) / cfg.width,
                      (t["radius_px"] * 1.2 + EDGE_MARGIN_PX) / cfg.height) for t in tracks]

    def bounds(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        hx, hy = self.half[k]
        return np.array([hx, hy]), np.array([1 - hx, 1 - hy])

    def room(self, k: int, direction: np.ndarray) -> float:
        """How far track k can travel along unit vector `direction` and stay inside the frame."""
        low, high = self.bounds(k)
        p = self.pos[self.cur, k]
        limit = math.inf
        for axis in (0, 1):
            if direction[axis] > 1e-9:
                limit = min(limit, (high[axis] - p[axis]) / direction[axis])
            elif direction[axis] < -1e-9:
                limit = min(limit, (low[axis] - p[axis]) / direction[axis])
        return max(limit, 0.0)

    def frames_left(self) -> int:
        return self.num_frames - 2 - self.cur

    def run(self, frames: int, velocities: dict | None = None) -> None:
        """Advance `frames` frames; tracks in `velocities` move with that velocity, the others stand still."""
        for i in range(self.cur, self.cur + frames):
            for k, v in (velocities or {}).items():
                self.vel[i, k] = v
            self.pos[i + 1] = self.pos[i] + self.vel[i] / self.fps
            self.visible[i + 1] = self.visible[i]
        self.cur += frames

    def visible_now(self) -> list[int]:
        return [k for k in range(len(self.tracks)) if self.visible[self.cur, k]]


def _draw_speed(rng: np.random.Generator) -> tuple[str, float]:
    name = str(rng.choice(list(SPEEDS)))
    return name, float(rng.uniform(*SPEEDS[name]))


def _event(kind, subject, predicate, start_frame, end_frame, obj=None, speed=None, direction=None) -> dict:
    return {"type": kind, "subject": subject, "object": obj, "predicate": predicate, "speed": speed,
            "direction": direction, "start_frame": start_frame, "end_frame": end_frame}


def _plan_move(scene: _Scene, rng, k: int):
    speed_name, speed = _draw_speed(rng)
    names = [d for d in DIRECTIONS if scene.room(k, np.array(DIRECTIONS[d])) >= speed * 1.0]
    if not names:
        return None
    name = str(rng.choice(names))
    u = np.array(DIRECTIONS[name])
    travel = min(speed * rng.uniform(1.5, 3.0), scene.room(k, u) - 0.005)
    frames = min(int(travel / speed * scene.fps), scene.frames_left())
    if frames < MIN_EVENT_FRAMES:
        return None
    return frames, {k: u * speed}, _event("move", k, f"moves {name}", scene.cur, scene.cur + frames - 1,
                                           speed=speed_name, direction=name)


def _plan_approach(scene: _Scene, rng, k: int, j: int):
    speed_name, speed = _draw_speed(rng)
    delta = scene.pos[scene.cur, j] - scene.pos[scene.cur, k]
    distance = float(np.hypot(*delta))
    travel = min(distance - rng.uniform(0.13, 0.2), speed * 4.0)
    frames = min(int(travel / speed * scene.fps), scene.frames_left())
    if frames < MIN_EVENT_FRAMES or travel < 0.08:
        return None
    u = delta / distance
    low, high = scene.bounds(k)
    end = scene.pos[scene.cur, k] + u * speed * frames / scene.fps
    if np.any(end < low) or np.any(end > high):
        return None
    return frames, {k: u * speed}, _event("approach", k, "approaches", scene.cur, scene.cur + frames - 1, obj=j,
                                           speed=speed_name)


def _plan_move_away(scene: _Scene, rng, k: int, j: int):
    speed_name, speed = _draw_speed(rng)
    delta = scene.pos[scene.cur, k] - scene.pos[scene.cur, j]
    distance = float(np.hypot(*delta))
    if distance < 0.05 or distance > 0.6:
        return None
    u = delta / distance
    travel = min(speed * rng.uniform(1.5, 3.0), scene.room(k, u) - 0.005)
    frames = min(int(travel / speed * scene.fps), scene.frames_left())
    if frames < MIN_EVENT_FRAMES or travel < 0.08:
        return None
    return frames, {k: u * speed}, _event("move_away", k, "moves away from", scene.cur, scene.cur + frames - 1,
                                           obj=j, speed=speed_name)


def _plan_pass(scene: _Scene, rng, k: int, j: int):
    dx = scene.pos[scene.cur, j, 0] - scene.pos[scene.cur, k, 0]
    if abs(dx) < 0.13:
        return None
    name = "right" if dx > 0 else "left"
    sign = 1.0 if dx > 0 else -1.0
    target = scene.pos[scene.cur, j, 0] + sign * rng.uniform(0.14, 0.2)
    low, high = scene.bounds(k)
    if not low[0] <= target <= high[0]:
        return None
    travel = abs(target - scene.pos[scene.cur, k, 0])
    speed_name, speed = _draw_speed(rng)
    if travel / speed > 5.0:
        speed_name, speed = "quick", float(rng.uniform(*SPEEDS["quick"]))
    frames = math.ceil(travel / speed * scene.fps)
    if travel / speed > 5.0 or frames > scene.frames_left():
        return None
    return frames, {k: np.array([sign * speed, 0.0])}, _event(
        "pass", k, f"moves {name}", scene.cur, scene.cur + frames - 1, obj=j, speed=speed_name, direction=name)


def _free_position(scene: _Scene, rng, k: int, others: list[int]):
    low, high = scene.bounds(k)
    for _ in range(40):
        p = rng.uniform(low, high)
        if all(np.hypot(*(p - scene.pos[scene.cur, j])) > 0.28 for j in others):
            return p
    return None


def _simulate(tracks: list[dict], num_frames: int, cfg: DemoConfig, rng: np.random.Generator):
    """Script and run the scene; return it and its event units (one event, or two concurrent ones)."""
    scene = _Scene(tracks, num_frames, cfg)
    n = len(tracks)
    hidden = [k for k in range(2, n) if rng.random() < 0.5]
    for k in range(n):
        if k in hidden:
            continue
        p = _free_position(scene, rng, k, [j for j in range(k) if scene.visible[0, j]])
        if p is None:
            return None
        scene.pos[0, k], scene.visible[0, k], scene.shown_once[k] = p, True, True
    scene.run(int(rng.integers(3, 10)))
    weights = {"move": 3.0, "approach": 2.5, "move_away": 1.5, "pass": 1.5, "appear": 2.5, "disappear": 1.0,
               "together": 1.0}
    units = []
    while scene.frames_left() > 12:
        unit = None
        for _ in range(12):
            kind = str(rng.choice(list(weights), p=np.array(list(weights.values())) / sum(weights.values())))
            unit = _try_unit(scene, rng, kind)
            if unit is not None:
                break
        if unit is not None:
            units.append(unit)
        scene.run(min(int(rng.integers(3, 9)), scene.frames_left() + 1))
    scene.run(num_frames - 1 - scene.cur)
    return scene, units


def _try_unit(scene: _Scene, rng, kind: str):
    """Plan and run one event unit of `kind` from the current frame, or return None when it does not fit."""
    on = scene.visible_now()
    if kind == "appear":
        waiting = [k for k in range(len(scene.tracks)) if not scene.shown_once[k]]
        if not waiting:
            return None
        k = int(rng.choice(waiting))
        p = _free_position(scene, rng, k, on)
        if p is None:
            return None
        scene.pos[scene.cur, k], scene.visible[scene.cur, k], scene.shown_once[k] = p, True, True
        return [_event("appear", k, "appears", scene.cur, scene.cur)]
    if kind == "disappear":
        long_on = [k for k in on if scene.cur >= 10 and scene.visible[scene.cur - 10, k]]
        if len(on) < 2 or not long_on:
            return None
        k = int(rng.choice(long_on))
        scene.visible[scene.cur, k] = False
        return [_event("disappear", k, "disappears", scene.cur - 1, scene.cur - 1)]
    if not on:
        return None
    if kind == "together":
        if len(on) < 2:
            return None
        k1, k2 = (int(x) for x in rng.choice(on, size=2, replace=False))
        first, second = _plan_move(scene, rng, k1), _plan_move(scene, rng, k2)
        if first is None or second is None:
            return None
        frames = min(first[0], second[0])
        for _, _, event in (first, second):
            event["end_frame"] = scene.cur + frames - 1
        scene.run(frames, {**first[1], **second[1]})
        return [first[2], second[2]]
    k = int(rng.choice(on))
    if kind == "move":
        plan = _plan_move(scene, rng, k)
    else:
        others = [j for j in on if j != k]
        if not others:
            return None
        j = int(rng.choice(others))
        planner = {"approach": _plan_approach, "move_away": _plan_move_away, "pass": _plan_pass}[kind]
        plan = planner(scene, rng, k, j)
    if plan is None:
        return None
    frames, velocities, event = plan
    scene.run(frames, velocities)
    return [event]


# ---------------------------------------------------------------- one video


def _make_tracks(rng: np.random.Generator, cfg: DemoConfig, color_allowed) -> list[dict]:
    """Shapes of distinct classes and colours; every (colour, shape) one that `color_allowed` accepts."""
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    shapes = rng.choice(len(SHAPES), size=n, replace=False)
    while True:  # held_out_compositions leaves every set of shapes distinct colours of either kind
        colors = rng.choice(len(COLORS), size=n, replace=False)
        if all(color_allowed(list(COLORS)[c], SHAPES[s]) for s, c in zip(shapes, colors)):
            break
    return [
        {"track_id": k, "shape": SHAPES[s], "color": list(COLORS)[c], "class_id": int(s), "class_name": SHAPES[s],
         "radius_px": int(rng.integers(cfg.min_radius_px, cfg.max_radius_px + 1))}
        for k, (s, c) in enumerate(zip(shapes, colors))
    ]


def _ground_truth_frames(scene: _Scene, layouts: list[dict], cfg: DemoConfig) -> list[dict]:
    frames = []
    last = scene.num_frames - 1
    for f, layout in enumerate(layouts):
        objects = []
        for k in sorted(layout):
            (x1, y1, x2, y2), fraction = layout[k]
            box = [round(x1 / cfg.width, 5), round(y1 / cfg.height, 5), round(x2 / cfg.width, 5),
                   round(y2 / cfg.height, 5)]
            velocity = [round(float(v), 5) for v in scene.vel[f, k]]
            objects.append({"track_id": k, "box": box, "velocity": velocity,
                            "visible_fraction": round(fraction, 4)})
        present = set(layout)
        appearing = {k for k in present if f > 0 and k not in layouts[f - 1]}
        disappearing = {k for k in present if f < last and k not in layouts[f + 1]}
        frames.append({"index": f, "time": round(f / cfg.fps, 4), "objects": objects,
                       "relations": frame_relations(objects, appearing, disappearing)})
    return frames


def _segments(units: list[list[dict]], frames: list[dict], tracks: list[dict], duration: float, fps: int, rng,
              part: str, relation_allowed):
    """Group event units into 2-3 captioned segments (one or two sequential events, or a concurrent pair), worded in
    lexicon part `part`; units with a relation `relation_allowed` rejects are not captioned."""
    units = [u for u in units if all((r := captions.event_relation(e, tracks)) is None or relation_allowed(*r)
                                     for e in u)]
    groups, i = [], 0
    while i < len(units) and len(groups) < 3:
        if len(units[i]) == 1 and i + 1 < len(units) and len(units[i + 1]) == 1 and rng.random() < 0.6:
            groups.append(("then", units[i] + units[i + 1]))
            i += 2
        else:
            groups.append(("while" if len(units[i]) == 2 else None, units[i]))
            i += 1
    segments = []
    for order, events in groups:
        start = max(0.0, events[0]["start_frame"] / fps - rng.uniform(0.2, 0.8))
        end = min(duration, (max(e["end_frame"] for e in events) + 1) / fps + rng.uniform(0.2, 0.8))
        start, end = round(start, 2), round(end, 2)
        window = [fr for fr in frames if start <= fr["time"] <= end]
        spec = captions.describe(events, order, tracks, frames, window, rng, part, relation_allowed)
        if spec is None:
            continue
        segments.append({"start": start, "end": end, "caption": captions.render(spec), "order": order,
                         "events": captions.events_of(spec, events, tracks, fps), "spec": spec, "window": window})
    return segments


def make_video(index: int, cfg: DemoConfig, split: str | None = None):
    """Simulate, render and caption video `index` of `split` (default: video_splits); return (ground truth dict, RGB
    frames, hard negatives per segment)."""
    split = split or video_splits(cfg)[index]
    color_allowed, relation_allowed = splits.composition_rules(split, held_out_compositions(cfg))
    rng = np.random.default_rng([cfg.seed, index])
    while True:  # redraw until the script yields at least two captionable segments
        num_frames = int(rng.integers(round(cfg.min_seconds * cfg.fps), round(cfg.max_seconds * cfg.fps) + 1))
        tracks = _make_tracks(rng, cfg, color_allowed)
        simulated = _simulate(tracks, num_frames, cfg, rng)
        if simulated is None:
            continue
        scene, units = simulated
        images, layouts = render_video(tracks, scene.pos, scene.visible, cfg.width, cfg.height)
        frames = _ground_truth_frames(scene, layouts, cfg)
        duration = round(num_frames / cfg.fps, 4)
        segments = _segments(units, frames, tracks, duration, cfg.fps, rng, splits.WORDING[split], relation_allowed)
        if len(segments) >= 2:
            break
    video_id = video_id_of(index)
    truth = {
        "video_id": video_id, "split": split, "fps": cfg.fps, "width": cfg.width, "height": cfg.height,
        "num_frames": num_frames, "duration": duration,
        "tracks": [{key: t[key] for key in ("track_id", "shape", "color", "class_id", "class_name")} for t in tracks],
        "frames": frames,
        "segments": [{key: s[key] for key in ("start", "end", "caption", "order", "events")} for s in segments],
    }
    negatives = [captions.negatives(s["spec"], s["window"], tracks, rng) for s in segments]
    return truth, images, negatives


def write_video(path: Path, images: list[np.ndarray], fps: int) -> None:
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot open a '{FOURCC}' writer for {path}; reinstall opencv-python.")
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()


def _write_json(path: Path, value, indent: int | None = 2) -> None:
    path.write_text(json.dumps(value, indent=indent, separators=None if indent else (",", ":")) + "\n")


def generate(out: str | Path, cfg: DemoConfig = DemoConfig(), detection: bool = True, verbose: bool = True) -> Path:
    """Write the whole demo dataset into `out` (see the module docstring); return its path."""
    if cfg.num_videos < 2:
        raise ValueError(f"num_videos is {cfg.num_videos}; the demo needs >= 2 videos (one train, one val).")
    if not 0 < cfg.val_fraction < 1:
        raise ValueError(f"val_fraction is {cfg.val_fraction}; expected a fraction strictly between 0 and 1.")
    split_of = video_splits(cfg)
    held = held_out_compositions(cfg)
    out = Path(out)
    (out / demo_layout.VIDEOS).mkdir(parents=True, exist_ok=True)
    (out / demo_layout.GROUND_TRUTH).mkdir(exist_ok=True)
    annotations = {"train": {}, "val": {}}
    compositional = []
    started = time.time()
    for index, split in enumerate(split_of):
        truth, images, negatives = make_video(index, cfg, split)
        video_id = truth["video_id"]
        write_video(demo_layout.video_path(out, video_id), images, cfg.fps)
        _write_json(demo_layout.ground_truth_path(out, video_id), truth, indent=None)
        annotations["train" if split == splits.TRAIN else "val"][video_id] = {
            "duration": truth["duration"],
            "timestamps": [[s["start"], s["end"]] for s in truth["segments"]],
            "sentences": [s["caption"] for s in truth["segments"]],
            "split": split,
        }
        if split != splits.TRAIN:
            for i, (segment, negs) in enumerate(zip(truth["segments"], negatives)):
                compositional.append({"sample_id": make_sample_id(video_id, i), "video_id": video_id,
                                      "segment_index": i, "split": split, "caption": segment["caption"],
                                      "negatives": negs})
        if verbose and ((index + 1) % 10 == 0 or index + 1 == cfg.num_videos):
            print(f"[demo] {index + 1}/{cfg.num_videos} videos ({time.time() - started:.1f}s)", flush=True)
    for split, name in demo_layout.SPLIT_FILES.items():
        _write_json(out / name, annotations[split])
    _write_json(out / demo_layout.COMPOSITIONAL, compositional)
    sizes = {split: split_of.count(split) for split in splits.SPLITS}
    _write_json(out / demo_layout.SPLITS, {"sizes": sizes, "wording": splits.WORDING, "held_out": held.to_json(),
                                           "videos": {video_id_of(i): split for i, split in enumerate(split_of)}})
    _write_json(out / demo_layout.SETTINGS, {"version": VERSION, **asdict(cfg), "num_train": sizes[splits.TRAIN],
                                             "num_val": cfg.num_videos - sizes[splits.TRAIN], "splits": sizes,
                                             "classes": list(SHAPES), "colors": COLORS, "background": BACKGROUND,
                                             "fourcc": FOURCC})
    if detection:
        counts = export_yolo_dataset(out, out / demo_layout.DETECTION, every=cfg.detection_every, class_names=SHAPES)
        if verbose:
            print(f"[demo] detection/: {counts['train']} train and {counts['val']} val images", flush=True)
    if verbose:
        print(f"[demo] wrote {out} in {time.time() - started:.1f}s: {sizes}", flush=True)
        print("[demo] caption words the DSG uses verbatim, per split:\n"
              + splits.format_overlap(splits.dsg_word_overlap(out)), flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    defaults = DemoConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--benchmark", action="store_true",
                        help=f"the benchmark's size: {BENCHMARK.num_videos} videos, split sizes {BENCHMARK.split_sizes}"
                             " (the other size flags are ignored)")
    parser.add_argument("--num-videos", type=int, default=defaults.num_videos)
    parser.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    parser.add_argument("--split-sizes", type=int, nargs=3, metavar=("DEV", "HELDOUT_WORDING", "HELDOUT_COMPOSITION"),
                        help="videos per evaluation split (the rest of --num-videos are train)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--detection-every", type=int, default=defaults.detection_every,
                        help="put every n-th frame into the YOLO dataset detection/")
    parser.add_argument("--no-detection", action="store_true", help="skip the YOLO dataset")
    args = parser.parse_args(argv)
    sizes = BENCHMARK if args.benchmark else DemoConfig(
        num_videos=args.num_videos, val_fraction=args.val_fraction,
        split_sizes=tuple(args.split_sizes) if args.split_sizes else None)
    cfg = replace(sizes, seed=args.seed, detection_every=args.detection_every)
    print(f"[demo] {cfg}", flush=True)
    generate(args.out, cfg, detection=not args.no_detection)


if __name__ == "__main__":
    main()
