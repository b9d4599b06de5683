"""Every input of a training run checked in the driver, before Ray starts (and before a Ray Train worker would find
it out 160 lines of log later).

`check_train(config, build_model)` raises ValueError or FileNotFoundError/OSError, each naming the input and the fix
as `<what is wrong> — <the fix>` (jobs/cli.py prints it as one line): each setting's range, the shard folder (its
manifest, the shards' schema versions, usable pairs in the train split), the backbone and model, and the checkpoint
a rerun would resume from.
"""

from pathlib import Path

import pyarrow.parquet as pq
import torch

from model import checkpoint
from model.data import check_shards
from schemas import manifest
from schemas.common import STATUS_OK


def at_least(low):
    return (lambda value: value >= low), f"at least {low}"


def above(low):
    return (lambda value: value > low), f"above {low}"


# TrainConfig settings -> (the test a value must pass, what it says).
RANGES = {
    "image_size": at_least(8), "num_frames": at_least(1), "batch_size": at_least(1), "epochs": at_least(1),
    "max_steps": at_least(0), "lr": above(0), "backbone_lr": at_least(0), "weight_decay": at_least(0),
    "checkpoint_every": at_least(1), "num_workers": at_least(1), "cpus_per_worker": above(0),
    "loader_workers": at_least(0), "max_failures": at_least(0),
}


def usable_pairs(graphs: str | Path, split: str) -> int:
    """Samples of `split` whose TSG and DSG rows are both ok: what one epoch trains on. Reads two columns only."""
    graphs, document = Path(graphs), check_shards(graphs)
    count = 0
    for shard in document["shards"]:
        ok = [{(r["sample_id"]) for r in pq.read_table(graphs / shard[f"{table}_path"],
                                                      columns=["sample_id", "split", "status"]).to_pylist()
               if r["split"] == split and r["status"] == STATUS_OK} for table in ("tsg", "dsg")]
        count += len(ok[0] & ok[1])
    return count


def check_graphs(config) -> None:
    if not (Path(config.graphs) / manifest.FILENAME).is_file():
        raise FileNotFoundError(f"--graphs {config.graphs} holds no {manifest.FILENAME} — pass the folder "
                                "build-graphs wrote (manifest.json, tsg/, dsg/), or build it first (make "
                                "build-graphs).")
    try:
        pairs = usable_pairs(config.graphs, config.train_split)
    except (FileNotFoundError, ValueError) as exc:
        what, _, fix = str(exc).partition("; ")  # schemas/ and model.data say "what; fix"
        fix = fix or "rebuild the shards (make build-graphs)"
        raise type(exc)(f"--graphs {config.graphs}: {what} — {fix}") from exc
    workers = config.num_workers
    if pairs // workers < config.batch_size:
        raise ValueError(f"--graphs {config.graphs}: {pairs} usable (caption, clip) pairs in split "
                         f"'{config.train_split}' for {workers} worker(s), fewer than --batch-size "
                         f"{config.batch_size} per worker (an epoch's last partial batch is dropped) — pass another "
                         "--train-split, a smaller --batch-size or fewer --num-workers, or build more samples.")


def check_resume(config, model: torch.nn.Module) -> None:
    """The checkpoint a rerun of this run would resume from loads into the model these settings build."""
    found = checkpoint.newest(Path(config.run_dir) / config.name)
    if found is None:
        return
    try:
        model.load_state_dict(torch.load(found, map_location="cpu", weights_only=True)["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        cause = " ".join(str(exc).split())[:300]
        raise ValueError(f"checkpoint {found} (the run --run-dir {config.run_dir} --name {config.name} would resume "
                         f"from) does not fit the model these settings build ({type(exc).__name__}: {cause}) — rerun "
                         "with that run's settings, or pass a new --name to start a fresh run.") from exc


def check_train(config, build_model) -> None:
    """Every input of a TrainConfig; `build_model(config)` (model.trainer.build_model) builds the model to check."""
    for name, (passes, expected) in RANGES.items():
        value = getattr(config, name)
        if not passes(value):
            raise ValueError(f"--{name.replace('_', '-')} {value} is out of range — give a value {expected}.")
    check_graphs(config)
    try:
        model = build_model(config)
    except (RuntimeError, AssertionError, OSError, ValueError) as exc:
        raise ValueError(f"--backbone {config.backbone} with these model settings does not build "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]}) — see --help for the backbone "
                         "forms and the model's sizes.") from exc
    check_resume(config, model)
