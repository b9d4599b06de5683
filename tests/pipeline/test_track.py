import numpy as np

from pipeline.track import TrackLinker, appearance_features, temporal_links
from schemas.common import STATUS_ERROR, STATUS_OK


def box_at(x, y, size=0.1):
    return [x, y, x + size, y + size]


def test_fast_objects_keep_their_ids_without_overlap():
    # Two squares of one class move 0.15 per keyframe in opposite directions: no IoU between keyframes.
    times = [0.0, 0.5, 1.0, 1.5]
    boxes = [np.array([box_at(0.1 + 0.15 * k, 0.2), box_at(0.8 - 0.15 * k, 0.6)]) for k in range(4)]
    boxes[2] = boxes[2][::-1]  # detection order changes between keyframes
    ids = TrackLinker().link(boxes, [np.zeros(2, int)] * 4, times)
    assert [i.tolist() for i in ids] == [[0, 1], [0, 1], [1, 0], [0, 1]]


def test_classes_are_never_linked():
    ids = TrackLinker().link([np.array([box_at(0.4, 0.4)])] * 2, [np.array([0]), np.array([1])], [0.0, 0.5])
    assert ids[0].tolist() == [0] and ids[1].tolist() == [1]


def test_an_object_that_leaves_and_comes_back_elsewhere_keeps_its_id():
    frame_red = np.zeros((100, 100, 3), np.uint8)
    frame_red[:] = (220, 20, 20)
    frame_blue = np.zeros((100, 100, 3), np.uint8)
    frame_blue[:] = (20, 20, 220)
    red = appearance_features(frame_red, np.array([box_at(0, 0, 0.5)]))
    blue = appearance_features(frame_blue, np.array([box_at(0, 0, 0.5)]))
    boxes = [np.array([box_at(0.05, 0.1), box_at(0.4, 0.4)]), np.array([box_at(0.4, 0.4)]),
             np.array([box_at(0.4, 0.4), box_at(0.85, 0.85)])]
    features = [np.concatenate([red, blue]), blue, np.concatenate([blue, red])]
    ids = TrackLinker().link(boxes, [np.zeros(len(b), int) for b in boxes], [0.0, 0.2, 0.4], features)
    assert [i.tolist() for i in ids] == [[0, 1], [1], [1, 0]]
    without_appearance = TrackLinker(use_appearance=False).link(boxes, [np.zeros(len(b), int) for b in boxes],
                                                           [0.0, 0.2, 0.4])
    assert without_appearance[2].tolist() == [1, 2]


def test_temporal_links_join_consecutive_appearances():
    frames = [0, 0, 1, 2, 2]
    tracks = [5, 6, 5, 6, 5]
    assert sorted(temporal_links(frames, tracks)) == [(0, 2), (1, 3), (2, 4)]


def test_linker_adds_track_ids_per_row():
    from pipeline.detect import Detections

    frame = np.full((50, 50, 3), 255, np.uint8)
    found = Detections(np.array([box_at(0.1, 0.1)], np.float32), np.array([0.9], np.float32), np.array([0]))
    batch = {"status": [STATUS_OK, STATUS_ERROR], "frames": [np.stack([frame, frame]), None],
             "frame_times": [[0.0, 0.5], []], "detections": [[found, found], []]}
    out = TrackLinker()(batch)
    assert [ids.tolist() for ids in out["track_ids"][0]] == [[0], [0]] and out["track_ids"][1] == []
