import cv2
import numpy as np
import pytest

from pipeline.viz.draw_dsg import TILE_WIDTH, draw_dsg, label, overlaps, track_color


def jpeg(width=160, height=120):
    _, data = cv2.imencode(".jpg", np.full((height, width, 3), 255, np.uint8))
    return data.tobytes()


def tiny_row():
    objects = [{"frame": k, "track_id": t, "class_id": 0, "class_name": "square", "score": 0.9,
                "box": [0.1 + 0.5 * t, 0.2, 0.3 + 0.5 * t, 0.5], "attributes": ["red" if t == 0 else "blue"]}
               for k in range(3) for t in range(2)]
    relations = [{"frame": 1, "subject": 2, "object": 3, "predicate": "approaches", "score": 0.8},
                 {"frame": 1, "subject": 2, "object": None, "predicate": "moves right", "score": 0.9}]
    return {"sample_id": "v#0", "status": "ok", "error_message": None, "start": 0.0, "end": 1.0,
            "frame_times": [0.0, 0.5, 1.0], "keyframes": [jpeg()] * 3, "objects": objects, "relations": relations,
            "temporal_links": [{"source": 0, "target": 2}]}


def test_draws_a_grid_with_track_coloured_boxes(tmp_path):
    path = draw_dsg(tiny_row(), tmp_path / "dsg.png", columns=2)
    image = cv2.imread(str(path))
    assert image.shape[1] == 2 * TILE_WIDTH and image.shape[0] > 2 * 360  # 3 tiles in 2 rows + title
    for track in (0, 1):
        assert (np.abs(image.astype(int) - track_color(track)).sum(axis=2) < 30).sum() > 100
    blank_tile = image[-100:, TILE_WIDTH + 10:]
    assert (blank_tile > 250).all()


def test_each_box_is_drawn_where_its_object_is_in_its_tracks_colour(tmp_path):
    image = cv2.imread(str(draw_dsg(tiny_row(), tmp_path / "dsg.png", columns=2)))
    tile_height = 120 * TILE_WIDTH // 160  # 160 x 120 keyframes scaled to the tile width
    assert image.shape == (30 + 2 * tile_height, 2 * TILE_WIDTH, 3)  # a 30 px title over 2 rows of 2 tiles
    for k in range(3):
        left, top = (k % 2) * TILE_WIDTH, 30 + (k // 2) * tile_height
        for track in (0, 1):
            x1, x2 = left + int((0.1 + 0.5 * track) * TILE_WIDTH), left + int((0.3 + 0.5 * track) * TILE_WIDTH)
            y1, y2 = top + int(0.2 * tile_height), top + int(0.5 * tile_height)
            side = y1 + (y2 - y1) // 4  # above the arrows, which join the box centres
            colour = list(track_color(track))
            assert image[side, x1].tolist() == colour and image[side, x2].tolist() == colour, (k, track)
            # The top edge's upper pixel row lies under the label's background: look one row down.
            assert image[y1 + 1, (x1 + x2) // 2].tolist() == colour and image[y2, (x1 + x2) // 2].tolist() == colour
            assert (image[y1 + 5:side, x1 + 5:x2 - 5] > 245).all(), (k, track)  # an outline, not filled


def test_error_rows_cannot_be_drawn(tmp_path):
    row = {**tiny_row(), "status": "error", "error_message": "v.mp4: not found"}
    with pytest.raises(ValueError, match="not found"):
        draw_dsg(row, tmp_path / "x.png")


def test_a_label_moves_down_past_the_labels_already_drawn():
    image = np.full((120, 160, 3), 255, np.uint8)
    taken = []
    first = label(image, "#0 red square", (10, 30), (0, 0, 255), taken=taken)
    second = label(image, "-> #1 approaches", (20, 28), (255, 0, 0), 0.38, taken)
    assert taken == [first, second] and not overlaps(first, second)
    assert second[1] >= first[3] and second[0] == 20  # moved down, not sideways
    assert (image[second[1] + 1:second[3], second[0]:second[2]] != 255).any()  # and drawn there
