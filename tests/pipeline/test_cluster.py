"""build-graphs on a two-node Ray cluster (Ray's own multi-node test harness, both nodes on this machine)."""

import json

import pandas as pd
import pytest

from pipeline.demo import layout
from pipeline.runner import BuildGraphsConfig, run
from schemas import manifest
from tests.pipeline.test_runner import write_video


@pytest.fixture
def two_nodes():
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, logging_level="ERROR")
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.slow
def test_shards_are_written_from_both_nodes_and_listed_once(two_nodes, tmp_path):
    root = tmp_path / "data"
    lines = []
    for v in range(4):
        write_video(root / f"clip{v}.mp4", seconds=2)
        lines += [{"video": f"clip{v}.mp4", "caption": f"a red box moves right {s}", "start": s, "end": s + 1}
                  for s in range(2)]
    (root / "clips.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "graphs"
    summary = run(BuildGraphsConfig(dataset="generic", data_root=str(root), annotations="clips.jsonl",
                                    out=out.as_uri(), weights=str(layout.WEIGHTS), num_frames=2, rows_per_shard=1,
                                    dsg_batch_size=1))
    assert summary["samples"] == 8 and summary["ok"] == 8, summary
    assert len(summary["write_nodes"]) == 2, summary["write_nodes"]
    document = manifest.read(out)
    ids = pd.concat([pd.read_parquet(out / s["dsg_path"], columns=["sample_id"]) for s in document["shards"]])
    assert len(ids) == 8 and ids["sample_id"].is_unique
