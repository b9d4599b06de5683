"""Attribute stage: the dominant basic colour term of each detected object.

Each pixel of the central part of an object's box is named with one of `COLOR_TERMS` by simple rules on its
hue, saturation and value; the object's colour is the most frequent name. The centre is used because a box's
corners mostly show the background (a triangle fills half its box, a star less): `boxes.central_crop`.
"""

import cv2
import numpy as np

from pipeline.boxes import central_crop

COLOR_TERMS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey")
# Upper hue bound in degrees of each chromatic term, in order round the colour wheel (red wraps round 360).
HUE_BOUNDS = (("red", 15), ("orange", 40), ("yellow", 70), ("green", 165), ("blue", 255), ("purple", 290),
              ("pink", 335), ("red", 361))


def color_names(rgb: np.ndarray) -> np.ndarray:
    """The colour term index (into COLOR_TERMS) of each pixel of an (..., 3) uint8 RGB array."""
    pixels = rgb.reshape(-1, 1, 3).astype(np.uint8)
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.float32)
    hue, saturation, value = hsv[:, 0] * 360.0 / 256.0, hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
    names = np.empty(len(hsv), dtype=np.int64)
    lower = 0.0
    for term, upper in HUE_BOUNDS:
        names[(hue >= lower) & (hue < upper)] = COLOR_TERMS.index(term)
        lower = upper
    orangeish = (hue >= 15) & (hue < 50)
    names[orangeish & (value < 0.6)] = COLOR_TERMS.index("brown")
    reddish = (hue < 15) | (hue >= 335)
    names[reddish & (saturation < 0.5) & (value > 0.7)] = COLOR_TERMS.index("pink")
    grey = saturation < 0.2
    names[grey] = COLOR_TERMS.index("grey")
    names[grey & (value > 0.85)] = COLOR_TERMS.index("white")
    names[value < 0.2] = COLOR_TERMS.index("black")
    return names.reshape(rgb.shape[:-1])


def dominant_color(frame: np.ndarray, box, center_fraction: float = 0.5) -> str | None:
    """The most frequent colour term in the central `center_fraction` (per side) of a normalised box of an RGB
    frame; None when the box covers no pixel."""
    crop = central_crop(frame, box, center_fraction)
    if crop.size == 0:
        return None
    counts = np.bincount(color_names(crop).ravel(), minlength=len(COLOR_TERMS))
    return COLOR_TERMS[int(counts.argmax())]


def color_attributes(frame: np.ndarray, boxes: np.ndarray) -> list[list[str]]:
    """One attribute list per box: [its dominant colour], or [] when the box covers no pixel."""
    attributes = []
    for box in boxes:
        color = dominant_color(frame, box)
        attributes.append([color] if color else [])
    return attributes
