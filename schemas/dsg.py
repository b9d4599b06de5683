"""DSG table: the dynamic scene graph of each caption segment's keyframes, one row per sample.

Objects are detections, one per (keyframe, object), in a flat list; `frame` indexes `frame_times`.
Boxes are [x1, y1, x2, y2] normalised by the source frame's width and height.
Relations and temporal links name objects by their position in `objects`:
  relations       subject -> object in one keyframe ("left of", "approaches"); a unary predicate
                  ("appears", "moves left") has object = null
  temporal_links  source -> target: the same track in a keyframe and its next appearance in a later one
`keyframes` holds the sampled frames as JPEG bytes, so training needs the shards and not the videos.
"""

import pyarrow as pa

from schemas.common import SAMPLE_KEY_FIELDS, STATUS_FIELDS, STATUS_OK, check_columns, check_rows_status

SCHEMA_VERSION = "1.0"
# Keyframe times are rounded to the video's frame grid, so they may sit a hair outside [start, end].
TIME_TOLERANCE = 1e-3

OBJECT_TYPE = pa.struct(
    [
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("track_id", pa.int32(), nullable=False),
        pa.field("class_id", pa.int32(), nullable=False),
        pa.field("class_name", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("box", pa.list_(pa.float32(), 4), nullable=False),
        pa.field("attributes", pa.list_(pa.string())),
    ]
)
RELATION_TYPE = pa.struct(
    [
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("subject", pa.int32(), nullable=False),
        pa.field("object", pa.int32()),
        pa.field("predicate", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
    ]
)
LINK_TYPE = pa.struct(
    [
        pa.field("source", pa.int32(), nullable=False),
        pa.field("target", pa.int32(), nullable=False),
    ]
)

SCHEMA = pa.schema(
    SAMPLE_KEY_FIELDS
    + [
        pa.field("video_path", pa.string(), nullable=False),
        pa.field("start", pa.float64(), nullable=False),
        pa.field("end", pa.float64(), nullable=False),
        pa.field("frame_width", pa.int32()),
        pa.field("frame_height", pa.int32()),
        pa.field("frame_times", pa.list_(pa.float64())),
        pa.field("keyframes", pa.list_(pa.binary())),
        pa.field("objects", pa.list_(OBJECT_TYPE)),
        pa.field("relations", pa.list_(RELATION_TYPE)),
        pa.field("temporal_links", pa.list_(LINK_TYPE)),
    ]
    + STATUS_FIELDS,
    metadata={"finsta.table": "dsg", "finsta.schema_version": SCHEMA_VERSION},
)


def validate(table: pa.Table) -> None:
    """Raise ValueError naming the column, row and rule when `table` breaks the DSG contract."""
    check_columns(table, SCHEMA, "dsg")
    columns = ["sample_id", "status", "error_message", "start", "end", "frame_times", "keyframes", "objects",
               "relations", "temporal_links"]
    rows = table.select(columns).to_pylist()
    check_rows_status(rows, "dsg")
    for i, row in enumerate(rows):
        where = f"dsg table: row {i} ('{row['sample_id']}')"
        if row["status"] != STATUS_OK:
            continue
        times = row["frame_times"] or []
        if not times:
            raise ValueError(f"{where}: status 'ok' but column 'frame_times' is empty; expected >= 1 keyframe time.")
        if any(b < a for a, b in zip(times, times[1:])):
            raise ValueError(f"{where}: column 'frame_times' is not in increasing order: {times}.")
        if not (row["start"] - TIME_TOLERANCE <= times[0] and times[-1] <= row["end"] + TIME_TOLERANCE):
            raise ValueError(f"{where}: keyframe times {times[0]}..{times[-1]} fall outside [start, end] "
                             f"= [{row['start']}, {row['end']}].")
        keyframes = row["keyframes"] or []
        if keyframes and len(keyframes) != len(times):
            raise ValueError(f"{where}: {len(keyframes)} keyframes for {len(times)} frame_times; expected one each.")
        objects = row["objects"] or []
        for j, obj in enumerate(objects):
            if not 0 <= obj["frame"] < len(times):
                raise ValueError(f"{where}: objects[{j}].frame = {obj['frame']} but there are {len(times)} keyframes.")
            x1, y1, x2, y2 = obj["box"]
            if not (0.0 <= x1 <= x2 <= 1.0 and 0.0 <= y1 <= y2 <= 1.0):
                raise ValueError(f"{where}: objects[{j}].box = {obj['box']} is not a normalised [x1, y1, x2, y2] "
                                 "with 0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1.")
            if not 0.0 <= obj["score"] <= 1.0:
                raise ValueError(f"{where}: objects[{j}].score = {obj['score']}, expected a value in [0, 1].")
        for j, rel in enumerate(row["relations"] or []):
            for end in ("subject", "object"):
                index = rel[end]
                if index is None and end == "object":
                    continue
                if not 0 <= index < len(objects):
                    raise ValueError(f"{where}: relations[{j}].{end} = {index} is not an object index "
                                     f"(row has {len(objects)} objects).")
            if not 0 <= rel["frame"] < len(times):
                raise ValueError(f"{where}: relations[{j}].frame = {rel['frame']} but there are {len(times)} "
                                 "keyframes.")
        for j, link in enumerate(row["temporal_links"] or []):
            if not (0 <= link["source"] < len(objects) and 0 <= link["target"] < len(objects)):
                raise ValueError(f"{where}: temporal_links[{j}] = {link} names an object index outside "
                                 f"0..{len(objects) - 1}.")
            source, target = objects[link["source"]], objects[link["target"]]
            if source["track_id"] != target["track_id"] or source["frame"] >= target["frame"]:
                raise ValueError(f"{where}: temporal_links[{j}] must join one track_id from an earlier to a later "
                                 f"keyframe; found track {source['track_id']}@frame {source['frame']} -> "
                                 f"track {target['track_id']}@frame {target['frame']}.")
