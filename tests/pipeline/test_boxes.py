import numpy as np

from pipeline.boxes import box_iou, central_crop


def box_at(x, y, size=0.1):
    return [x, y, x + size, y + size]


def test_box_iou():
    iou = box_iou(np.array([box_at(0, 0, 0.2)]), np.array([box_at(0.1, 0, 0.2), box_at(0.5, 0.5)]))
    assert np.allclose(iou, [[1 / 3, 0.0]])


def test_central_crop_keeps_the_middle_half_of_each_side_and_at_least_one_pixel():
    image = np.arange(100 * 200).reshape(100, 200)
    crop = central_crop(image, [0.1, 0.2, 0.5, 0.6])  # pixels x 20..100, y 20..60
    assert crop.shape == (20, 40) and crop[0, 0] == image[30, 40]
    assert central_crop(image, [0.5, 0.5, 0.5, 0.5]).shape == (1, 1)
