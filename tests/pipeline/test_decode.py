import decord
import numpy as np
import pytest

from pipeline.decode import Decoder, sample_frame_indices
from schemas.common import STATUS_ERROR, STATUS_OK
from tests.pipeline.conftest import FPS, HEIGHT, NUM_FRAMES, SQUARE, WIDTH, red_square_left


def test_uniform_sampling_stays_inside_the_segment():
    times = np.arange(100) / 10.0
    indices = sample_frame_indices(times, 2.04, 4.0, num_frames=4)
    assert indices.tolist() == [23, 28, 33, 38]
    assert times[indices].min() >= 2.04 and times[indices].max() <= 4.0


def test_fps_sampling_and_short_segments():
    times = np.arange(100) / 10.0
    assert sample_frame_indices(times, 1.0, 3.0, num_frames=8, sample_fps=2.0).tolist() == [10, 15, 20, 25, 30]
    assert sample_frame_indices(times, 1.0, 1.2, num_frames=8).tolist() == [10, 11, 12]
    assert sample_frame_indices(times, 12.0, 14.0, num_frames=8).size == 0
    assert sample_frame_indices(times, 8.0, float("inf"), num_frames=8, sample_fps=1.0).tolist() == [80, 90]
    assert sample_frame_indices(times, 9.0, float("inf"), num_frames=4).tolist() == [91, 93, 96, 98]


def test_decoder_reads_the_sampled_frames_in_rgb(tiny_video, make_batch):
    out = Decoder(num_frames=4)(make_batch([(tiny_video, 0.5, 1.5)]))
    assert out["status"] == [STATUS_OK]
    frames, times = out["frames"][0], out["frame_times"][0]
    assert frames.shape == (4, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    assert (out["frame_width"][0], out["frame_height"][0]) == (WIDTH, HEIGHT)
    assert times == sorted(times) and 0.5 <= times[0] and times[-1] <= 1.5
    for frame, time in zip(frames, times):
        x = red_square_left(round(time * FPS)) + SQUARE // 2
        red, green, blue = frame[10 + SQUARE // 2, x].astype(int)
        assert red > 200 and green < 60 and blue < 60


def test_decoder_shrinks_to_max_side_and_opens_each_video_once(tiny_video, make_batch, monkeypatch):
    opened = []
    real_reader = decord.VideoReader
    monkeypatch.setattr(decord, "VideoReader", lambda path, **kw: opened.append(path) or real_reader(path, **kw))
    out = Decoder(num_frames=3, max_side=80)(make_batch([(tiny_video, 0.0, 1.0), (tiny_video, 1.0, 1.9)]))
    assert out["status"] == [STATUS_OK, STATUS_OK]
    assert opened == [str(tiny_video)]
    assert out["frames"][0].shape == (3, 60, 80, 3)
    assert (out["frame_width"][1], out["frame_height"][1]) == (WIDTH, HEIGHT)


@pytest.mark.parametrize("kind, cause", [("empty", "empty"), ("truncated", "cannot open"), ("text", "cannot open"),
                                         ("missing", "not found")])
def test_broken_files_become_error_rows(broken_videos, tiny_video, make_batch, kind, cause):
    out = Decoder(num_frames=2)(make_batch([(broken_videos[kind], 0.0, 1.0), (tiny_video, 0.0, 1.0)]))
    assert out["status"] == [STATUS_ERROR, STATUS_OK]
    assert str(broken_videos[kind]) in out["error_message"][0] and cause in out["error_message"][0]
    assert out["frames"][0] is None and out["frame_times"][0] == []


def test_segment_past_the_end_is_an_error_row(tiny_video, make_batch):
    duration = NUM_FRAMES / FPS
    out = Decoder()(make_batch([(tiny_video, duration + 1, duration + 3), (tiny_video, 1.0, 0.5)]))
    assert out["status"] == [STATUS_ERROR, STATUS_ERROR]
    assert "holds no frame" in out["error_message"][0] and str(tiny_video) in out["error_message"][0]
    assert "ends before it starts" in out["error_message"][1]


def test_incoming_error_rows_pass_through(tiny_video, make_batch):
    batch = make_batch([(tiny_video, 0.0, 1.0)], status=[STATUS_ERROR])
    batch["error_message"] = ["s0: caption missing"]
    out = Decoder()(batch)
    assert out["status"] == [STATUS_ERROR] and out["error_message"] == ["s0: caption missing"]
    assert out["frames"] == [None]
