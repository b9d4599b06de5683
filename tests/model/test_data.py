import json

import pyarrow.parquet as pq
import pytest
import torch

from model.data import ShardStream, check_shards, flat, loader, text_graph
from schemas import tsg


def test_stream_joins_rows_skips_errors_and_counts_them(tiny_shards):
    stream = ShardStream(tiny_shards, "train", image_size=16, num_frames=4)
    pairs = list(stream)
    assert len(pairs) == 8 and stream.skipped == {"error": 1}
    for text, video in pairs:
        assert text.sample_id == video.sample_id
        assert video.frames.shape == (1, 4, 3, 16, 16) and 0.0 <= video.frames.min() and video.frames.max() <= 1.0
        assert video.num_nodes == 8 and video.link_index.shape == (2, 6) and len(video.edge_predicate) == 4
    assert len(list(ShardStream(tiny_shards, "val", image_size=16, num_frames=4))) == 4


def test_frames_are_padded_or_cut_to_num_frames(tiny_shards):
    _, long = next(iter(ShardStream(tiny_shards, "train", image_size=16, num_frames=6)))
    assert long.frame_mask.tolist() == [[True] * 4 + [False] * 2] and long.frames[0, 4:].abs().sum() == 0
    _, short = next(iter(ShardStream(tiny_shards, "train", image_size=16, num_frames=2)))
    assert short.num_nodes == 4 and short.frame.max() == 1 and short.link_index.shape == (2, 2)
    assert int(short.link_index.max()) < short.num_nodes


def test_collate_offsets_indices_per_graph(tiny_shards):
    text, video = next(iter(loader(ShardStream(tiny_shards, "train", image_size=16, num_frames=4), batch_size=3)))
    assert text.num_graphs == 3 and video.frames.shape[:2] == (3, 4)
    per_graph = 7  # nodes per tiny TSG
    assert text.subject_index[:, 2:4].tolist() == [[2 + per_graph, 4 + per_graph], [0 + per_graph, 0 + per_graph]]
    assert video.link_index.max() < video.num_nodes and video.link_index[:, 6:].min() >= 8
    assert video.unary_index.tolist()[:5] == [0, 2, 4, 6, 8]
    assert len(flat(video.object_text)) == video.num_nodes and len(flat(text.node_text)) == text.num_nodes


def test_stream_splits_shards_between_readers(tiny_shards):
    ids = [sorted(t.sample_id for t, _ in ShardStream(tiny_shards, "train", 16, 4, rank=r, world_size=2))
           for r in (0, 1)]
    assert not set(ids[0]) & set(ids[1]) and len(ids[0]) + len(ids[1]) == 8


def test_without_modifiers_modifier_nodes_are_dropped(tiny_shards):
    row = pq.read_table(tiny_shards / "tsg/part-00000.parquet").to_pylist()[0]
    full, pruned = text_graph(row), text_graph(row, use_modifiers=False)
    assert full.num_nodes == 7 and pruned.num_nodes == 6 and "quickly" not in pruned.node_text
    assert pruned.edge_index.max() < 6 and pruned.edge_index.shape[1] == full.edge_index.shape[1] - 1
    assert full.node_phrase[0].endswith(" circle") or full.node_phrase[0].endswith(" square")
    assert full.node_phrase[0] != full.node_text[0]  # attributes prefixed


def test_schema_version_mismatch_is_a_clear_error(tiny_shards, tmp_path):
    import shutil

    folder = tmp_path / "graphs"
    shutil.copytree(tiny_shards, folder)
    table = pq.read_table(folder / "tsg/part-00000.parquet")
    table = table.replace_schema_metadata({**table.schema.metadata, b"finsta.schema_version": b"0.9"})
    pq.write_table(table, folder / "tsg/part-00000.parquet")
    with pytest.raises(ValueError, match=f"0.9, this code reads {tsg.SCHEMA_VERSION}"):
        check_shards(folder)
    document = json.loads((folder / "manifest.json").read_text())
    document["schema_versions"]["dsg"] = "0.1"
    (folder / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="schema_versions"):
        ShardStream(folder, "train")


def test_missing_manifest_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="make build-graphs"):
        ShardStream(tmp_path, "train")


def test_shuffle_changes_order_between_epochs_but_not_content(tiny_shards):
    stream = ShardStream(tiny_shards, "train", 16, 4, shuffle=True, seed=1, shuffle_buffer=4)
    first = [t.sample_id for t, _ in stream]
    stream.set_epoch(1)
    second = [t.sample_id for t, _ in stream]
    assert sorted(first) == sorted(second) and first != second
    assert torch.is_tensor(next(iter(stream))[1].frames)


def test_repeat_runs_epoch_after_epoch(tiny_shards):
    stream = ShardStream(tiny_shards, "train", 16, 4, shuffle=True, repeat=True)
    batches = iter(loader(stream, batch_size=4))
    ids = [t.sample_id for _ in range(5) for t in next(batches).__getitem__(0).to_data_list()]
    assert len(ids) == 20 and len(set(ids[:8])) == 8 and sorted(ids[:8]) == sorted(ids[8:16])


def test_more_readers_than_shards_stripe_rows(tiny_shards):
    ids = [[t.sample_id for t, _ in ShardStream(tiny_shards, "val", 16, 4, rank=r, world_size=3)] for r in range(3)]
    assert [len(i) for i in ids] == [2, 1, 1]  # the 4 val rows sit in one shard; each of 3 readers gets some
    assert len(set(sum(ids, []))) == 4
