"""build-graphs on a two-node Ray cluster (Ray's own multi-node test harness, both nodes on this machine)."""

import json
import threading
import time

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


def clips(root, videos: int) -> BuildGraphsConfig:
    """`videos` 2 s clips with 2 captions each, one sample per shard, to be built into root/graphs."""
    lines = []
    for v in range(videos):
        write_video(root / f"clip{v}.mp4", seconds=2)
        lines += [{"video": f"clip{v}.mp4", "caption": f"a red box moves right {s}", "start": s, "end": s + 1}
                  for s in range(2)]
    (root / "clips.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return BuildGraphsConfig(dataset="generic", data_root=str(root), annotations="clips.jsonl",
                             out=(root / "graphs").as_uri(), weights=str(layout.WEIGHTS), num_frames=2,
                             rows_per_shard=1, dsg_batch_size=1)


def sample_ids(out) -> pd.Series:
    document = manifest.read(out)
    return pd.concat([pd.read_parquet(out / s["dsg_path"], columns=["sample_id"])
                      for s in document["shards"]])["sample_id"]


@pytest.mark.slow
def test_shards_are_written_from_both_nodes_and_listed_once(two_nodes, tmp_path):
    summary = run(clips(tmp_path, videos=4))
    assert summary["samples"] == 8 and summary["ok"] == 8, summary
    assert len(summary["write_nodes"]) == 2, summary["write_nodes"]
    ids = sample_ids(tmp_path / "graphs")
    assert len(ids) == 8 and ids.is_unique


@pytest.mark.slow
def test_a_node_removed_mid_run_leaves_one_row_per_sample_after_the_run_or_a_rerun(two_nodes, tmp_path):
    config = clips(tmp_path, videos=6)
    records = tmp_path / "graphs" / "dsg"
    removed_at = []

    def remove_the_worker_node_once_shards_are_written():
        # Waits on the files, not the clock: the deadline only keeps a broken run from hanging the suite.
        deadline = time.monotonic() + 600
        while len(list(records.glob("*/_records/*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        [worker] = two_nodes.worker_nodes
        two_nodes.remove_node(worker, allow_graceful=False)
        removed_at.append(len(list(records.glob("*/_records/*.json"))))

    killer = threading.Thread(target=remove_the_worker_node_once_shards_are_written, daemon=True)
    killer.start()
    first_run = "finished"
    try:
        run(config)
    except Exception as exc:  # noqa: BLE001 - a run that loses a node may fail; the rerun below must then finish it
        first_run = f"failed: {exc!r}"
    killer.join(timeout=600)
    assert removed_at and removed_at[0] < 12, f"the worker node was not removed mid-run: {removed_at}"
    two_nodes.add_node(num_cpus=1)  # the replacement a cluster's autoscaler would bring
    rerun = run(config)
    assert rerun["samples"] + rerun["skipped_already_done"] == 12, (first_run, rerun)
    ids = sample_ids(tmp_path / "graphs")
    assert len(ids) == 12 and ids.is_unique, first_run
