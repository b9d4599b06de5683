"""Draw one DSG row: its keyframes in a grid with boxes, track ids, class + attributes and relation arrows (PNG).

    .venv/bin/python -m pipeline.viz.draw_dsg --shard out/demo/graphs/dsg/<hash>/part-00000.parquet \\
        --sample-id 'v_demo_0030#0' --out a.png
    .venv/bin/python -m pipeline.viz.draw_dsg --video data/demo/videos/v_demo_0030.mp4 --start 0 --end 4 \\
        --imgsz 320 --out a.png
Boxes and labels take their track's colour; under each box are its unary predicates ("moves left", "appears") and,
per arrow it starts, the pair predicates ("-> #1 approaches, near"); arrows go from subject to object.
Left/right/above/below hold for almost every pair, so they are left out unless asked for (`--predicates`).
"""

import argparse
import colorsys
from pathlib import Path

import cv2
import numpy as np

from pipeline.boxes import center
from pipeline.demo import layout

DEFAULT_PREDICATES = ("near", "touching", "inside", "in front of", "behind", "approaches", "moves away from")
TILE_WIDTH = 480
COLUMNS = 4
FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_color(track_id: int) -> tuple[int, int, int]:
    """A distinct, dark enough BGR colour per track id (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618034) % 1.0, 0.9, 0.75)
    return int(b * 255), int(g * 255), int(r * 255)


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label(image, text: str, origin, color, scale: float = 0.45, taken: list | None = None) -> tuple:
    """Write `text` on a white background at `origin` (its baseline's left end), kept inside the image; with
    `taken` (the rectangles of the labels already drawn) it moves down until it covers none of them, and adds its
    own. Returns its rectangle (x1, y1, x2, y2)."""
    x, y = int(origin[0]), int(origin[1])
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x = min(max(x, 0), image.shape[1] - w - 1)
    lowest = image.shape[0] - base - 1
    y = min(max(y, h + 2), lowest)
    box = (x, y - h - 2, x + w + 2, y + base)
    while taken and y < lowest and any(overlaps(box, other) for other in taken):
        y += 1
        box = (x, y - h - 2, x + w + 2, y + base)
    if taken is not None:
        taken.append(box)
    cv2.rectangle(image, box[:2], box[2:], (255, 255, 255), -1)
    cv2.putText(image, text, (x + 1, y), FONT, scale, color, 1, cv2.LINE_AA)
    return box


def draw_keyframe(image: np.ndarray, frame: int, time: float, objects: list[dict], relations: list[dict],
                  predicates) -> np.ndarray:
    height, width = image.shape[:2]
    mine = {i: o for i, o in enumerate(objects) if o["frame"] == frame}

    def corner(box):
        return int(box[0] * width), int(box[1] * height)

    def centre(box):
        x, y = center(box)
        return int(x * width), int(y * height)

    for obj in mine.values():
        x2, y2 = int(obj["box"][2] * width), int(obj["box"][3] * height)
        cv2.rectangle(image, corner(obj["box"]), (x2, y2), track_color(obj["track_id"]), 2)
    pairs: dict[tuple[int, int], list[str]] = {}
    for rel in relations:
        if rel["frame"] == frame and rel["object"] is not None and rel["predicate"] in predicates:
            pairs.setdefault((rel["subject"], rel["object"]), []).append(rel["predicate"])
    for subject, obj in pairs:
        start, end = centre(mine[subject]["box"]), centre(mine[obj]["box"])
        color = track_color(mine[subject]["track_id"])
        cv2.arrowedLine(image, start, end, color, 1, cv2.LINE_AA, tipLength=0.06)
    # The class labels first, over their boxes; then the predicate lines, each moved down past any label it would
    # hide (a crowded keyframe stacks them instead of writing one over another).
    taken: list = []
    for obj in mine.values():
        label(image, f"#{obj['track_id']} {' '.join(obj['attributes'] or [])} {obj['class_name']}".replace("  ", " "),
              (corner(obj["box"])[0], corner(obj["box"])[1] - 3), track_color(obj["track_id"]), taken=taken)
    for i, obj in mine.items():
        # Under each object: its unary predicates, then one line per arrow it starts ("-> #1 approaches, near").
        lines = [r["predicate"] for r in relations if r["frame"] == frame and r["subject"] == i and r["object"] is None]
        lines += [f"-> #{mine[o]['track_id']} {', '.join(names)}" for (s, o), names in pairs.items() if s == i]
        below = int(obj["box"][3] * height) + 14
        for text in lines:
            below = label(image, text, (corner(obj["box"])[0], below), track_color(obj["track_id"]), 0.38,
                          taken)[3] + 12
    label(image, f"keyframe {frame}  t={time:.2f}s", (4, height - 4), (0, 0, 0), 0.45)
    cv2.rectangle(image, (0, 0), (width - 1, height - 1), (160, 160, 160), 1)
    return image


def draw_dsg(row: dict, path: str | Path, predicates=DEFAULT_PREDICATES, columns: int = COLUMNS) -> Path:
    """Write a PNG of a DSG row (a dict with the schemas.dsg columns, status 'ok') to `path`; return the path."""
    if row["status"] != "ok":
        raise ValueError(f"DSG row '{row['sample_id']}' has status '{row['status']}' ({row['error_message']}); "
                         "only an 'ok' row has keyframes to draw.")
    tiles = []
    for k, (data, time) in enumerate(zip(row["keyframes"], row["frame_times"])):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        scale = TILE_WIDTH / image.shape[1]
        image = cv2.resize(image, (TILE_WIDTH, round(image.shape[0] * scale)), interpolation=cv2.INTER_CUBIC)
        tiles.append(draw_keyframe(image, k, time, row["objects"], row["relations"], predicates))
    height = max(tile.shape[0] for tile in tiles)
    blank = np.full((height, TILE_WIDTH, 3), 255, np.uint8)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack([np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255)
                       for t in tiles[i:i + columns]]) for i in range(0, len(tiles), columns)]
    grid = np.vstack(rows)
    title = np.full((30, grid.shape[1], 3), 255, np.uint8)
    label(title, f"{row['sample_id']}  [{row['start']:.2f}, {row['end']:.2f}] s  {len(row['objects'])} objects, "
                 f"{len(row['relations'])} relations, {len(row['temporal_links'])} temporal links", (6, 22),
          (0, 0, 0), 0.6)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack([title, grid])):
        raise ValueError(f"cv2.imwrite could not write '{path}'; expected a writable path ending in .png.")
    return path


def row_from_shard(shard: str | Path, sample_id: str | None) -> dict:
    import pyarrow.parquet as pq

    table = pq.read_table(shard)
    rows = table.to_pylist()
    if sample_id is None:
        ok = [r for r in rows if r["status"] == "ok"]
        if not ok:
            raise ValueError(f"shard '{shard}' has no 'ok' DSG row to draw.")
        return ok[0]
    for row in rows:
        if row["sample_id"] == sample_id:
            return row
    held = [r["sample_id"] for r in rows][:5]
    raise ValueError(f"sample '{sample_id}' is not in shard '{shard}'; it holds {held}...")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="PNG path to write")
    parser.add_argument("--shard", help="a DSG shard file (GRAPHS/dsg/<hash>/part-NNNNN.parquet)")
    parser.add_argument("--sample-id", help="which sample of the shard (default: its first ok row)")
    parser.add_argument("--video", help="or a video file, built now with DSGBuilder")
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--end", type=float, default=float("inf"))
    parser.add_argument("--weights", default=str(layout.WEIGHTS), help="YOLO weights (default: the demo detector)")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--predicates", nargs="*", default=list(DEFAULT_PREDICATES),
                        help="pair predicates drawn as arrows")
    args = parser.parse_args(argv)
    if bool(args.shard) == bool(args.video):
        parser.error("pass exactly one of --shard or --video")
    if args.shard:
        row = row_from_shard(args.shard, args.sample_id)
    else:
        from pipeline.build_dsg import DSGBuilder

        builder = DSGBuilder(args.weights, device=args.device, num_frames=args.num_frames, imgsz=args.imgsz,
                             keyframe_size=max(args.imgsz, 320))
        batch = {"sample_id": [Path(args.video).stem], "video_id": [Path(args.video).stem], "split": [""],
                 "video_path": [str(Path(args.video).resolve())], "start": [args.start], "end": [args.end],
                 "caption": [""], "status": ["ok"], "error_message": [None]}
        out = builder(batch)
        row = {key: values[0] for key, values in out.items()}
    print(f"wrote {draw_dsg(row, args.out, tuple(args.predicates))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
