"""Tiny valid graph shards without the pipeline: a few samples of two coloured shapes moving on 32x32 keyframes.

For the model tests (tests/model/conftest.py) and for `python -m bench.train` when no demo shards are built.
"""

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from schemas import dsg, manifest, tsg
from schemas.common import make_sample_id

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60), "yellow": (230, 210, 30)}
SHAPES = ("circle", "square")
NUM_FRAMES = 4
SIZE = 32


def node(kind: str, text: str, start: int) -> dict:
    return {"kind": kind, "text": text, "lemma": text, "token_start": start, "token_end": start + 1}


def jpeg(boxes: list[tuple[str, str, list[float]]]) -> bytes:
    image = Image.new("RGB", (SIZE, SIZE), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for shape, colour, (x1, y1, x2, y2) in boxes:
        xy = [x1 * SIZE, y1 * SIZE, x2 * SIZE, y2 * SIZE]
        (draw.ellipse if shape == "circle" else draw.rectangle)(xy, fill=COLOURS[colour])
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def make_rows(index: int, split: str, rng: np.random.Generator) -> tuple[dict, dict]:
    """One sample: shape A moves left or right past a still shape B; the caption says which and where."""
    video_id = f"v_tiny_{index:04d}"
    sample_id = make_sample_id(video_id, 0)
    colour_a, colour_b = rng.choice(list(COLOURS), size=2, replace=False)
    shape_a, shape_b = SHAPES[index % 2], SHAPES[(index + 1) % 2]
    moves_right = bool(index % 3)
    xs = np.linspace(0.1, 0.6, NUM_FRAMES) if moves_right else np.linspace(0.6, 0.1, NUM_FRAMES)
    box_b = [0.4, 0.6, 0.7, 0.9]
    objects, relations, links, keyframes = [], [], [], []
    for frame, x in enumerate(xs):
        box_a = [float(x), 0.1, float(x) + 0.3, 0.4]
        keyframes.append(jpeg([(shape_a, colour_a, box_a), (shape_b, colour_b, box_b)]))
        for track, (shape, colour, box) in enumerate([(shape_a, colour_a, box_a), (shape_b, colour_b, box_b)]):
            objects.append({"frame": frame, "track_id": track, "class_id": SHAPES.index(shape), "class_name": shape,
                            "score": 0.9, "box": box, "attributes": [colour]})
        a, b = len(objects) - 2, len(objects) - 1
        side = "left of" if box_a[0] < box_b[0] else "right of"
        relations.append({"frame": frame, "subject": a, "object": b, "predicate": side, "score": 1.0})
        relations.append({"frame": frame, "subject": a, "object": None,
                          "predicate": "moves right" if moves_right else "moves left", "score": 1.0})
        if frame:
            links += [{"source": a - 2, "target": a}, {"source": b - 2, "target": b}]
    direction = "right" if moves_right else "left"
    caption = f"a {colour_a} {shape_a} moves {direction} quickly past the {colour_b} {shape_b}"
    nodes = [node("object", shape_a, 2), node("attribute", colour_a, 1), node("relation", f"moves {direction}", 3),
             node("modifier", "quickly", 5), node("relation", "past", 6), node("object", shape_b, 9),
             node("attribute", colour_b, 8)]
    edges = [{"source": 0, "target": 1, "kind": "attribute"}, {"source": 0, "target": 2, "kind": "subject"},
             {"source": 2, "target": 3, "kind": "modifier"}, {"source": 0, "target": 4, "kind": "subject"},
             {"source": 4, "target": 5, "kind": "object"}, {"source": 5, "target": 6, "kind": "attribute"},
             {"source": 2, "target": 4, "kind": "while"}]
    key = {"sample_id": sample_id, "video_id": video_id, "split": split}
    tsg_row = {**key, "caption": caption, "nodes": nodes, "edges": edges, "status": "ok", "error_message": None}
    dsg_row = {**key, "video_path": f"/nonexistent/{video_id}.mp4", "start": 0.0, "end": 3.0, "frame_width": SIZE,
               "frame_height": SIZE, "frame_times": [0.0, 1.0, 2.0, 3.0], "keyframes": keyframes, "objects": objects,
               "relations": relations, "temporal_links": links, "status": "ok", "error_message": None}
    return tsg_row, dsg_row


def error_rows(index: int, split: str) -> tuple[dict, dict]:
    key = {"sample_id": make_sample_id(f"v_broken_{index:04d}", 0), "video_id": f"v_broken_{index:04d}", "split": split}
    message = f"/nonexistent/v_broken_{index:04d}.mp4: cannot decode"
    tsg_row = {**key, "caption": "a broken clip", "nodes": [], "edges": [], "status": "error", "error_message": message}
    dsg_row = {**key, "video_path": "/nonexistent/broken.mp4", "start": 0.0, "end": 1.0, "frame_width": None,
               "frame_height": None, "frame_times": [], "keyframes": [], "objects": [], "relations": [],
               "temporal_links": [], "status": "error", "error_message": message}
    return tsg_row, dsg_row


def write_tiny_shards(folder: Path, num_train: int = 8, num_val: int = 4, rows_per_shard: int = 4,
                      num_errors: int = 1, seed: int = 0) -> Path:
    """Write a valid shard folder (manifest.json, tsg/part-*.parquet, dsg/part-*.parquet) and return it."""
    rng = np.random.default_rng(seed)
    pairs = [make_rows(i, "train", rng) for i in range(num_train)]
    pairs += [make_rows(num_train + i, "val", rng) for i in range(num_val)]
    pairs += [error_rows(i, "train") for i in range(num_errors)]
    folder = Path(folder)
    (folder / "tsg").mkdir(parents=True, exist_ok=True)
    (folder / "dsg").mkdir(parents=True, exist_ok=True)
    shards = []
    for number, start in enumerate(range(0, len(pairs), rows_per_shard)):
        chunk = pairs[start:start + rows_per_shard]
        row = {"shard": f"part-{number:05d}", "num_rows": len(chunk)}
        for name, module, rows in (("tsg", tsg, [p[0] for p in chunk]), ("dsg", dsg, [p[1] for p in chunk])):
            table = pa.Table.from_pylist(rows, schema=module.SCHEMA)
            module.validate(table)
            path = f"{name}/part-{number:05d}.parquet"
            pq.write_table(table, folder / path)
            row[f"{name}_path"] = path
            row[f"{name}_ok"] = sum(r["status"] == "ok" for r in rows)
            row[f"{name}_error"] = len(rows) - row[f"{name}_ok"]
        shards.append(row)
    document = {
        "format": manifest.FORMAT,
        "schema_versions": {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION, "manifest": manifest.SCHEMA_VERSION},
        "dataset": "tiny", "created": "2026-12-02T07:30:00+00:00", "pipeline_config": {"source": "tests"},
        "detector": {"weights": "none", "sha256": "none"},
        "text_parser": {"spacy_model": "none", "spacy_model_version": "none"},
        "shards": shards,
        "status_counts": {t: {"ok": sum(s[f"{t}_ok"] for s in shards), "error": sum(s[f"{t}_error"] for s in shards)}
                          for t in ("tsg", "dsg")},
    }
    manifest.validate(document)
    (folder / manifest.FILENAME).write_text(json.dumps(document, indent=2))
    return folder
