"""Tiny videos, broken files and a random-weights YOLO shared by the DSG stage tests."""

import cv2
import numpy as np
import pytest

from schemas.common import STATUS_OK

FPS = 10
WIDTH, HEIGHT = 160, 120
NUM_FRAMES = 20
SQUARE = 30


def red_square_left(index: int) -> int:
    """x of the red square's left edge in frame `index` (it moves 4 px per frame to the right)."""
    return 10 + 4 * index


def write_tiny_video(path, num_frames: int = NUM_FRAMES) -> None:
    """A white 160x120 video at 10 fps: a red square moving right along the top, a static blue one below."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for index in range(num_frames):
        frame = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
        x = red_square_left(index)
        cv2.rectangle(frame, (x, 10), (x + SQUARE - 1, 10 + SQUARE - 1), (0, 0, 255), -1)  # BGR red
        cv2.rectangle(frame, (60, 75), (60 + SQUARE - 1, 75 + SQUARE - 1), (255, 0, 0), -1)  # BGR blue
        writer.write(frame)
    writer.release()


@pytest.fixture
def tiny_video(tmp_path):
    path = tmp_path / "tiny video.mp4"
    write_tiny_video(path)
    return path


@pytest.fixture
def broken_videos(tmp_path, tiny_video):
    """One file per fault kind: name -> path."""
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.mp4"
    data = tiny_video.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    return {"empty": empty, "truncated": truncated, "text": text, "missing": tmp_path / "missing.mp4"}


@pytest.fixture
def make_batch():
    """Build a SAMPLE_SCHEMA batch from (video_path, start, end) triples."""

    def make(segments, status=None):
        rows = len(segments)
        return {
            "sample_id": [f"s{i}" for i in range(rows)],
            "video_id": [f"v{i}" for i in range(rows)],
            "split": ["val"] * rows,
            "video_path": [str(path) for path, _, _ in segments],
            "start": [float(start) for _, start, _ in segments],
            "end": [float(end) for _, _, end in segments],
            "caption": ["a red square moves right above a blue square"] * rows,
            "status": list(status) if status else [STATUS_OK] * rows,
            "error_message": [None] * rows,
        }

    return make


@pytest.fixture(scope="session")
def random_yolo_weights(tmp_path_factory):
    """A YOLOv8n with random weights built from yolov8n.yaml (offline), saved as a checkpoint path."""
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")
    path = tmp_path_factory.mktemp("weights") / "random_yolov8n.pt"
    model.save(str(path))
    return path
