"""The demo dataset's folder layout, the project's demo detector weights, and the one reader of a demo split.

A demo folder is an ActivityNet Captions dataset (its train and val split files) plus what only the demo has:
  train.json, val_1.json          captions with [start, end] segments per video (ActivityNet Captions format)
  videos/{video_id}.mp4           the rendered videos
  ground_truth/{video_id}.json    per-frame boxes, tracks and relation triples of each video
  test_compositional.json         val captions with their hard negatives
  demo.json                       the generator's settings
  splits.json                     each video's benchmark split (train, dev, heldout-wording, heldout-composition)
  detection/                      a YOLO dataset of frames (data.yaml, images/, labels/)
`python -m pipeline.demo.generate --out DIR` writes one.
"""

import json
from pathlib import Path

from pipeline.datasets import ACTIVITYNET_SPLITS, read_activitynet

WEIGHTS = Path(__file__).resolve().parent / "weights" / "shapes_yolov8n.pt"
SPLIT_FILES = {split: ACTIVITYNET_SPLITS[split] for split in ("train", "val")}
VIDEOS = "videos"
GROUND_TRUTH = "ground_truth"
COMPOSITIONAL = "test_compositional.json"
SETTINGS = "demo.json"
SPLITS = "splits.json"
DETECTION = "detection"


def video_path(root: str | Path, video_id: str) -> Path:
    return Path(root) / VIDEOS / f"{video_id}.mp4"


def ground_truth_path(root: str | Path, video_id: str) -> Path:
    return Path(root) / GROUND_TRUTH / f"{video_id}.json"


def read_ground_truth(root: str | Path, video_id: str) -> dict:
    return json.loads(ground_truth_path(root, video_id).read_text())


def is_generated(root: str | Path) -> bool:
    """Whether `root` holds a demo dataset (its split files and videos/)."""
    root = Path(root)
    return all((root / name).is_file() for name in SPLIT_FILES.values()) and (root / VIDEOS).is_dir()


def split_file(root: str | Path, split: str) -> Path:
    """The annotation file of `split` ("train" or "val"); FileNotFoundError naming the fix when it is missing."""
    if split not in SPLIT_FILES:
        raise ValueError(f"Unknown demo split '{split}'; expected one of {sorted(SPLIT_FILES)}.")
    path = Path(root) / SPLIT_FILES[split]
    if not path.is_file():
        raise FileNotFoundError(f"No {path}; expected a demo dataset in {root}: generate the demo first "
                                f"(python -m pipeline.demo.generate --out {root}).")
    return path


def video_ids(root: str | Path, split: str) -> list[str]:
    """The ids of the videos of a split, in the split file's order."""
    return list(json.loads(split_file(root, split).read_text()))


def read_split(root: str | Path, split: str) -> list[dict]:
    """SAMPLE_SCHEMA rows of a demo split (the ActivityNet reader's), video paths absolute."""
    split_file(root, split)
    return list(read_activitynet(Path(root).resolve(), splits=(split,)))
