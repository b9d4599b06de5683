"""Export frames of the demo videos as a YOLO-format detection dataset (classes = shape names).

Frames are decoded from the written mp4 files with decord, so the detector trains on what the pipeline will see.
Objects mostly hidden behind others are left unlabelled: a detector should not learn to find what cannot be seen.
"""

from pathlib import Path

import cv2
import decord

from pipeline.demo import layout

MIN_VISIBLE_FRACTION = 0.3


def yolo_label_lines(frame: dict, class_of_track: dict[int, int],
                     min_visible: float = MIN_VISIBLE_FRACTION) -> list[str]:
    """'class x_centre y_centre width height' lines (normalised) for one ground-truth frame."""
    lines = []
    for obj in frame["objects"]:
        if obj.get("visible_fraction", 1.0) < min_visible:
            continue
        x1, y1, x2, y2 = obj["box"]
        lines.append(f"{class_of_track[obj['track_id']]} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} "
                     f"{x2 - x1:.6f} {y2 - y1:.6f}")
    return lines


def export_yolo_dataset(dataset_dir: str | Path, out_dir: str | Path, every: int, class_names) -> dict[str, int]:
    """Write images/{train,val}, labels/{train,val} and data.yaml under `out_dir`; return image counts per split.

    The split of a video is the annotation file that lists it (train.json -> train, val_1.json -> val).
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    if every < 1:
        raise ValueError(f"every is {every}; expected a frame stride >= 1.")
    counts = {}
    for split in layout.SPLIT_FILES:
        video_ids = sorted(layout.video_ids(dataset_dir, split))
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
        counts[split] = 0
        for video_id in video_ids:
            truth = layout.read_ground_truth(dataset_dir, video_id)
            class_of_track = {t["track_id"]: t["class_id"] for t in truth["tracks"]}
            reader = decord.VideoReader(str(layout.video_path(dataset_dir, video_id)))
            indices = list(range(0, min(len(reader), truth["num_frames"]), every))
            images = reader.get_batch(indices).asnumpy()
            for index, image in zip(indices, images):
                stem = f"{video_id}_{index:04d}"
                cv2.imwrite(str(out_dir / "images" / split / f"{stem}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                lines = yolo_label_lines(truth["frames"][index], class_of_track)
                (out_dir / "labels" / split / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
                counts[split] += 1
    # No 'path' key: ultralytics then resolves images/... against this file's folder, wherever the data moves.
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(class_names))
    (out_dir / "data.yaml").write_text(f"train: images/train\nval: images/val\nnames:\n{names}\n")
    return counts
