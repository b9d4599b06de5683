"""The demo generator: determinism, ground truth against pixels, readable clips, ActivityNet files, relations."""

import dataclasses
import json

import decord
import numpy as np
import pytest

from pipeline.demo import layout
from pipeline.demo.generate import COLORS, DemoConfig, generate, make_video, pair_relations, unary_motion
from schemas.common import make_sample_id


@pytest.fixture(scope="module")
def tiny_demo(demo_data):
    """The session's demo (tests/conftest.py): 3 videos, the last one val, seed 7."""
    return demo_data


@pytest.fixture(scope="module")
def tiny_config(tiny_demo) -> DemoConfig:
    """The settings the demo was made with, read back from the demo.json it wrote."""
    settings = json.loads((tiny_demo / layout.SETTINGS).read_text())
    return DemoConfig(**{f.name: settings[f.name] for f in dataclasses.fields(DemoConfig)})


def _json_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def _first_frame(root, video_id="v_demo_0000"):
    return decord.VideoReader(str(root / "videos" / f"{video_id}.mp4"))[0].asnumpy()


def test_same_seed_gives_same_files_and_another_seed_does_not(tiny_demo, tiny_config, tmp_path):
    again = generate(tmp_path / "again", tiny_config, detection=False, verbose=False)
    assert _json_files(again) == _json_files(tiny_demo)
    assert np.array_equal(_first_frame(again), _first_frame(tiny_demo))

    other = generate(tmp_path / "other", dataclasses.replace(tiny_config, seed=8), detection=False, verbose=False)
    assert (other / "train.json").read_bytes() != (tiny_demo / "train.json").read_bytes()
    assert not np.array_equal(_first_frame(other), _first_frame(tiny_demo))


def _alone(obj, objects):
    """Fully visible and not overlapping any other object's box (with a 2 px margin)."""
    x1, y1, x2, y2 = obj["box"]
    for other in objects:
        if other is obj:
            continue
        ox1, oy1, ox2, oy2 = other["box"]
        if ox1 < x2 + 0.01 and x1 < ox2 + 0.01 and oy1 < y2 + 0.01 and y1 < oy2 + 0.01:
            return False
    return obj["visible_fraction"] == 1.0


def test_boxes_are_tight_around_the_rendered_shapes(tiny_config):
    truth, images, _ = make_video(0, tiny_config)
    width, height = truth["width"], truth["height"]
    colors = {t["track_id"]: np.array(COLORS[t["color"]]) for t in truth["tracks"]}
    checked = 0
    for frame in truth["frames"][::7]:
        image = images[frame["index"]]
        for obj in frame["objects"]:
            if not _alone(obj, frame["objects"]):
                continue
            x1, y1 = round(obj["box"][0] * width), round(obj["box"][1] * height)
            x2, y2 = round(obj["box"][2] * width), round(obj["box"][3] * height)
            is_color = np.all(image == colors[obj["track_id"]], axis=-1)
            inside = is_color[y1:y2, x1:x2]
            # Each edge of the box touches the shape; nothing of its colour lies just outside.
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            ring = is_color[max(y1 - 2, 0):y2 + 2, max(x1 - 2, 0):x2 + 2].sum()
            assert ring == inside.sum()
            checked += 1
    assert checked >= 5


def test_box_centres_have_the_object_colour_in_the_decoded_video(tiny_demo):
    checked = 0
    for path in sorted((tiny_demo / "ground_truth").glob("*.json")):
        truth = json.loads(path.read_text())
        colors = {t["track_id"]: np.array(COLORS[t["color"]]) for t in truth["tracks"]}
        reader = decord.VideoReader(str(tiny_demo / "videos" / f"{truth['video_id']}.mp4"))
        for frame in truth["frames"][::10]:
            image = reader[frame["index"]].asnumpy().astype(int)
            for obj in frame["objects"]:
                if not _alone(obj, frame["objects"]):
                    continue
                x1, y1, x2, y2 = obj["box"]
                pixel = image[int((y1 + y2) / 2 * truth["height"]), int((x1 + x2) / 2 * truth["width"])]
                assert np.abs(pixel - colors[obj["track_id"]]).max() < 40, (truth["video_id"], frame["index"], obj)
                checked += 1
    assert checked >= 10


def test_decord_reads_every_clip_with_the_expected_frames_and_size(tiny_demo):
    for path in sorted((tiny_demo / "ground_truth").glob("*.json")):
        truth = json.loads(path.read_text())
        reader = decord.VideoReader(str(tiny_demo / "videos" / f"{truth['video_id']}.mp4"))
        assert abs(len(reader) - truth["num_frames"]) <= 1
        assert reader[0].shape == (240, 320, 3)
        assert reader.get_avg_fps() == pytest.approx(10, abs=0.01)
        assert truth["duration"] == pytest.approx(truth["num_frames"] / truth["fps"])


def test_activitynet_files_and_compositional_entries(tiny_demo):
    train = json.loads((tiny_demo / "train.json").read_text())
    val = json.loads((tiny_demo / "val_1.json").read_text())
    assert sorted(train) == ["v_demo_0000", "v_demo_0001"] and sorted(val) == ["v_demo_0002"]
    for video_id, entry in {**train, **val}.items():
        assert (tiny_demo / "videos" / f"{video_id}.mp4").exists()
        assert 2 <= len(entry["timestamps"]) == len(entry["sentences"]) <= 3
        for (start, end), sentence in zip(entry["timestamps"], entry["sentences"]):
            assert 0 <= start < end <= entry["duration"]
            assert isinstance(sentence, str) and sentence.endswith(".") and len(sentence.split()) >= 3
        truth = json.loads((tiny_demo / "ground_truth" / f"{video_id}.json").read_text())
        assert [s["caption"] for s in truth["segments"]] == entry["sentences"]
    compositional = json.loads((tiny_demo / "test_compositional.json").read_text())
    assert [e["sample_id"] for e in compositional] == [make_sample_id("v_demo_0002", i)
                                                       for i in range(len(val["v_demo_0002"]["sentences"]))]
    settings = json.loads((tiny_demo / "demo.json").read_text())
    assert settings["seed"] == 7 and settings["classes"] == ["circle", "square", "triangle", "star"]


def test_ground_truth_relations_follow_the_scripted_events(tiny_demo):
    for path in sorted((tiny_demo / "ground_truth").glob("*.json")):
        truth = json.loads(path.read_text())
        for segment in truth["segments"]:
            for event in segment["events"]:
                frame = truth["frames"][round(event["start"] * truth["fps"])]
                unary = event["type"] in ("move", "pass", "appear", "disappear")
                triple = {"subject": event["subject"], "predicate": event["predicate"],
                          "object": None if unary else event["object"]}
                assert triple in frame["relations"], (truth["video_id"], event)


def test_pair_relations_on_known_boxes():
    left, right = [0.1, 0.4, 0.2, 0.5], [0.5, 0.4, 0.6, 0.5]
    assert pair_relations(left, right, (0, 0), (0, 0)) == ["left of"]
    assert pair_relations(right, left, (0, 0), (0, 0)) == ["right of"]
    assert "approaches" in pair_relations(left, right, (0.2, 0), (0, 0))
    assert "moves away from" in pair_relations(left, right, (-0.2, 0), (0, 0))
    small, big = [0.42, 0.42, 0.48, 0.48], [0.3, 0.3, 0.6, 0.6]
    assert pair_relations(small, big, (0, 0), (0, 0)) == ["inside", "behind"]
    front, back = [0.3, 0.3, 0.4, 0.45], [0.35, 0.25, 0.45, 0.4]
    assert {"touching", "near", "in front of"} <= set(pair_relations(front, back, (0, 0), (0, 0)))
    assert "behind" in pair_relations(back, front, (0, 0), (0, 0))
    assert pair_relations([0.1, 0.1, 0.2, 0.2], [0.1, 0.5, 0.2, 0.6], (0, 0), (0, 0)) == ["above"]
    assert unary_motion((-0.1, 0.2)) == ["moves left", "moves down"] and unary_motion((0.04, 0)) == []
