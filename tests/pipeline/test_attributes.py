import cv2
import numpy as np
import pytest

from pipeline.attributes import COLOR_TERMS, color_attributes, color_names, dominant_color


@pytest.mark.parametrize("rgb, name", [
    ((230, 30, 30), "red"), ((255, 140, 0), "orange"), ((240, 220, 30), "yellow"), ((40, 180, 60), "green"),
    ((30, 80, 220), "blue"), ((140, 50, 200), "purple"), ((255, 105, 180), "pink"), ((130, 75, 20), "brown"),
    ((10, 10, 10), "black"), ((250, 250, 250), "white"), ((128, 128, 128), "grey"),
])
def test_basic_colours_are_named(rgb, name):
    assert COLOR_TERMS[int(color_names(np.array([[rgb]], np.uint8))[0, 0])] == name


def test_a_triangle_takes_its_own_colour_not_the_background():
    frame = np.full((100, 100, 3), 200, np.uint8)  # light grey background
    triangle = np.array([[20, 80], [80, 80], [50, 20]], np.int32)
    cv2.fillPoly(frame, [triangle], (30, 160, 40))  # RGB green
    assert dominant_color(frame, (0.2, 0.2, 0.8, 0.8)) == "green"
    assert dominant_color(frame, (0.0, 0.0, 0.1, 0.1)) == "grey"


def test_one_attribute_list_per_box():
    frame = np.zeros((50, 100, 3), np.uint8)
    frame[:, :50] = (220, 20, 20)
    frame[:, 50:] = (250, 250, 250)
    boxes = np.array([[0.0, 0.0, 0.5, 1.0], [0.5, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    assert color_attributes(frame, boxes) == [["red"], ["white"], []]
