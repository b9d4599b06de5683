"""Scores of anyone's (clip, caption) pairs: a trained run's Finsta model with graphs (the structure path) and the
same host without graphs (the backbone path), for captions already parsed into TSG rows (jobs.score parses them)."""

from pathlib import Path

import pyarrow.parquet as pq

from model.data import check_shards, text_graph, video_graph
from model.eval.retrieval import score_pairs
from model.trainer import load_trained


def dsg_rows(graphs: str | Path, sample_ids: list[str]) -> dict[str, dict]:
    """{sample_id: DSG row} of the given samples, from every shard of a graph folder."""
    graphs, wanted = Path(graphs), sorted(set(sample_ids))
    found = {}
    for shard in check_shards(graphs)["shards"]:
        table = pq.read_table(graphs / shard["dsg_path"], filters=[("sample_id", "in", wanted)])
        found.update((r["sample_id"], r) for r in table.to_pylist())
    missing = [s for s in wanted if s not in found]
    if missing:
        raise ValueError(f"sample_id(s) {missing[:3]} are not in the shards of {graphs}; expected ids of its clips "
                         "(the sample_id column of its dsg/ files, e.g. 'v_demo_0320#0').")
    return found


def score_captions(run: str | Path, graphs: str | Path, texts: list[dict], batch_size: int = 32) -> list[dict]:
    """TSG rows (sample_id of the clip, caption, nodes, edges) -> one dict per row: sample_id, caption, `finsta`
    (structure path; None for a host-only run) and `host` (backbone path) scores."""
    model, config = load_trained(run)
    clips = dsg_rows(graphs, [t["sample_id"] for t in texts])
    pairs = [(text_graph(t, config.use_modifiers), video_graph(clips[t["sample_id"]], config.image_size,
                                                                config.num_frames)) for t in texts]
    scores = score_pairs(model, pairs, batch_size)
    finsta = scores.get("structure")
    return [{"sample_id": t["sample_id"], "caption": t["caption"],
             "finsta": None if finsta is None else float(finsta[i]), "host": float(scores["backbone"][i])}
            for i, t in enumerate(texts)]
