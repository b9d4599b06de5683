"""Box geometry, the one home of it in pipeline/: boxes are normalised [x1, y1, x2, y2], y grows downward.

Functions on one box take any sequence of four numbers; `box_iou` and `box_centers` take (n, 4) arrays.
"""

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (n, 4) against every box in b (m, 4) -> (n, m)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """Centres (n, 2) of boxes (n, 4)."""
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def center(box) -> np.ndarray:
    """The centre (x, y) of one box."""
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def box_area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def intersection_area(a, b) -> float:
    return max(min(a[2], b[2]) - max(a[0], b[0]), 0.0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)


def central_crop(image: np.ndarray, box, fraction: float = 0.5) -> np.ndarray:
    """The pixels of the central `fraction` (per side) of a normalised box of an (H, W, ...) image, at least one
    pixel a side: a box's corners mostly show the background."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    margin_x, margin_y = (x2 - x1) * (1 - fraction) / 2, (y2 - y1) * (1 - fraction) / 2
    left, right = round((x1 + margin_x) * width), round((x2 - margin_x) * width)
    top, bottom = round((y1 + margin_y) * height), round((y2 - margin_y) * height)
    return image[max(top, 0):max(bottom, top + 1), max(left, 0):max(right, left + 1)]
