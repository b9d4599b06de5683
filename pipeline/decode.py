"""Decode stage: sample keyframes inside each caption segment with decord.

A batch holds the columns of `schemas.common.SAMPLE_SCHEMA`. Each video is opened once per batch, however many of
its segments the batch holds, and only the sampled frames are read (`VideoReader.get_batch`), never the whole video.
Frames come back RGB, uint8, shrunk so that their long side is at most `max_side` (the detector's input size).

Added columns, one entry per row:
  frames        uint8 array (K, H, W, 3), RGB; None on an error row
  frame_times   K keyframe times in seconds, on the video's own frame grid, inside [start, end]
  frame_width   the source video's width and height (boxes are normalised by these)
  frame_height
A file that is missing, empty, truncated, not a video, or a segment that holds no frame of the video becomes
`status="error"` with an `error_message` naming the file and the cause.
"""

import os
from dataclasses import dataclass

import cv2
import decord
import numpy as np

from schemas.common import STATUS_ERROR, STATUS_OK
from schemas.dsg import TIME_TOLERANCE

# decord raises RuntimeError for unreadable containers and DECORDError (a plain Exception) for failed reads.
DECODE_ERRORS = (RuntimeError, OSError, ValueError, decord.DECORDError)


@dataclass(frozen=True)
class Keyframes:
    frames: np.ndarray  # (K, H, W, 3) uint8 RGB
    times: list[float]
    width: int
    height: int


def sample_frame_indices(frame_times: np.ndarray, start: float, end: float, num_frames: int,
                         sample_fps: float | None = None) -> np.ndarray:
    """Indices of the keyframes inside [start, end]: `num_frames` spread uniformly (the centre of each of
    `num_frames` equal parts), or one frame per 1 / `sample_fps` seconds when `sample_fps` is set. Empty when no
    frame of the video lies in the segment."""
    inside = np.flatnonzero((frame_times >= start - TIME_TOLERANCE) & (frame_times <= end + TIME_TOLERANCE))
    if inside.size == 0:
        return inside
    if sample_fps:
        first, last = frame_times[inside[0]], frame_times[inside[-1]]  # end may be inf: "to the end"
        targets = np.arange(first, last + TIME_TOLERANCE, 1.0 / sample_fps)
        nearest = np.abs(frame_times[inside][None, :] - targets[:, None]).argmin(axis=1)
        return inside[np.unique(nearest)]
    positions = np.floor((np.arange(num_frames) + 0.5) * inside.size / num_frames).astype(int)
    return inside[np.unique(positions)]


def resize_long_side(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) `frame` so that its long side is at most `max_side`."""
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class Decoder:
    """Keyframe sampler: `Decoder(num_frames=8)(batch)` adds frames, frame_times, frame_width, frame_height."""

    def __init__(self, num_frames: int = 8, sample_fps: float | None = None, max_side: int = 640,
                 num_threads: int = 1):
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}.")
        if sample_fps is not None and sample_fps <= 0:
            raise ValueError(f"sample_fps must be > 0 or None (then num_frames are sampled), got {sample_fps}.")
        self.num_frames = num_frames
        self.sample_fps = sample_fps
        self.max_side = max_side
        self.num_threads = num_threads

    def decode_video(self, video_path: str, segments: list[tuple[float, float]]) -> list[Keyframes | str]:
        """Keyframes of each (start, end) segment of one video, or an error message per segment."""
        if not os.path.isfile(video_path):
            return [f"{video_path}: video file not found"] * len(segments)
        if os.path.getsize(video_path) == 0:
            return [f"{video_path}: video file is empty (0 bytes)"] * len(segments)
        try:
            reader = decord.VideoReader(video_path, num_threads=self.num_threads)
            timestamps = reader.get_frame_timestamp(range(len(reader))) if len(reader) else np.zeros((0, 2))
        except DECODE_ERRORS as exc:
            return [f"{video_path}: cannot open as a video ({type(exc).__name__}: {str(exc).strip()[:200]})"] * len(
                segments)
        if len(timestamps) == 0:
            return [f"{video_path}: the video holds no frames"] * len(segments)
        frame_times, duration = timestamps[:, 0], float(timestamps[-1, 1])
        results = []
        for start, end in segments:
            if not start <= end:
                results.append(f"{video_path}: segment [{start}, {end}] s ends before it starts")
                continue
            indices = sample_frame_indices(frame_times, start, end, self.num_frames, self.sample_fps)
            if indices.size == 0:
                results.append(f"{video_path}: segment [{start}, {end}] s holds no frame of the video "
                               f"(duration {duration:.3f} s, {len(frame_times)} frames)")
                continue
            try:
                frames = reader.get_batch(indices.tolist()).asnumpy()
            except DECODE_ERRORS as exc:
                results.append(f"{video_path}: cannot read frames {indices.tolist()} "
                               f"({type(exc).__name__}: {str(exc).strip()[:200]})")
                continue
            height, width = frames.shape[1:3]
            frames = np.stack([resize_long_side(frame, self.max_side) for frame in frames])
            results.append(Keyframes(frames, [float(t) for t in frame_times[indices]], int(width), int(height)))
        return results

    def __call__(self, batch: dict) -> dict:
        rows = len(batch["sample_id"])
        out = {key: list(values) for key, values in batch.items()}
        out.update(frames=[None] * rows, frame_times=[[] for _ in range(rows)], frame_width=[None] * rows,
                   frame_height=[None] * rows)
        rows_by_video: dict[str, list[int]] = {}
        for i in range(rows):
            if out["status"][i] == STATUS_OK:
                rows_by_video.setdefault(str(out["video_path"][i]), []).append(i)
        for video_path, indices in rows_by_video.items():
            segments = [(float(out["start"][i]), float(out["end"][i])) for i in indices]
            for i, result in zip(indices, self.decode_video(video_path, segments)):
                if isinstance(result, str):
                    out["status"][i], out["error_message"][i] = STATUS_ERROR, f"{out['sample_id'][i]}: {result}"
                    continue
                out["frames"][i] = result.frames
                out["frame_times"][i] = result.times
                out["frame_width"][i], out["frame_height"][i] = result.width, result.height
        return out
