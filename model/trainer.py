"""Ray Train: the only file that touches it. TorchTrainer workers stream shards, train, checkpoint, resume, evaluate.

Checkpoints (model/checkpoint.py: model, optimizer, step, epoch, config) are Ray Train checkpoints under
run_dir/name (with metrics.jsonl, one line per step, and retrieval.json); a rerun with the same run_dir and name
resumes from the latest checkpoint.
"""

import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tensorboardX import SummaryWriter
from torch import nn

from model import checkpoint
from model.backbones import build_backbone
from model.checks import usable_pairs
from model.data import ShardStream, collate, loader
from model.eval.retrieval import format_retrieval, retrieval
from model.finsta import BackboneOnly, FinstaConfig, FinstaModel

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The defaults are the training defaults of the project (make pretrain, make demo); the
    compositional benchmark's short runs override some of them (model/eval/compositional.py, BenchmarkConfig)."""
    graphs: str = field(metadata={"help": "graph shard folder (manifest.json, tsg/, dsg/), an absolute path"})
    run_dir: str = field(metadata={"help": "folder of training runs, an absolute path"})
    name: str = field(default="finsta", metadata={"help": "run name: checkpoints go to run_dir/name; a rerun resumes"})
    backbone: str = field(default="tiny", metadata={"help": "tiny, clip:PATH, clip:config, sentence or sentence:PATH"})
    finsta: bool = field(default=True, metadata={"help": "backbone + Finsta (off: the backbone alone, the baseline)"})
    model: FinstaConfig = field(default=FinstaConfig(), metadata={"help": "FinstaModel's sizes and components"})
    use_modifiers: bool = field(default=True, metadata={"help": "keep the TSG's modifier nodes"})
    image_size: int = field(default=64, metadata={"help": "keyframe side in pixels fed to the backbone"})
    num_frames: int = field(default=8, metadata={"help": "keyframes per clip (padded or cut to this)"})
    batch_size: int = field(default=16, metadata={"help": "(caption, clip) pairs per step and worker"})
    epochs: int = field(default=30, metadata={"help": "passes over the train split"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many steps (0: run all epochs)"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate of Finsta's parameters"})
    backbone_lr: float = field(default=0.0, metadata={"help": "learning rate of the backbone (0: the same as lr)"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    checkpoint_every: int = field(default=50, metadata={"help": "steps between checkpoints"})
    num_workers: int = field(default=1, metadata={"help": "Ray Train workers"})
    cpus_per_worker: float = field(default=1.0, metadata={"help": "CPUs each worker reserves"})
    use_gpu: bool = field(default=False, metadata={"help": "one GPU per worker"})
    precision: str = field(default="fp32", metadata={"help": f"autocast precision, one of {sorted(PRECISIONS)}"})
    loader_workers: int = field(default=1, metadata={"help": "DataLoader processes decoding shards per worker"})
    max_failures: int = field(default=0, metadata={"help": "worker failures Ray Train recovers from"})
    seed: int = field(default=0, metadata={"help": "seed of the weights and the data order"})
    train_split: str = field(default="train", metadata={"help": "split trained on"})
    eval_split: str = field(default="val", metadata={"help": "split of the retrieval evaluation after training"})

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision '{self.precision}' is not one of {sorted(PRECISIONS)}.")
        for key in ("graphs", "run_dir"):
            if not Path(getattr(self, key)).is_absolute():
                raise ValueError(f"{key} must be an absolute path (the job runs in Ray's copy of the working "
                                 f"directory); got '{getattr(self, key)}'.")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The config that dataclasses.asdict(config) gave (a checkpoint's, Ray Train's loop config); keys this
        version does not know are left out."""
        def known(kind, found: dict) -> dict:
            return {k: v for k, v in found.items() if k in {f.name for f in dataclasses.fields(kind)}}

        values = known(cls, values)
        return cls(**{**values, "model": FinstaConfig(**known(FinstaConfig, values.get("model", {})))})


def build_model(config: TrainConfig) -> nn.Module:
    backbone = build_backbone(config.backbone, image_size=config.image_size)
    if not config.finsta:
        return BackboneOnly(backbone, config.model)
    return FinstaModel(backbone, config.model)


def load_trained(path: str | Path) -> tuple[nn.Module, TrainConfig]:
    """A trained model in eval mode and its TrainConfig from a checkpoint (checkpoint.load: a state.pt, a checkpoint
    folder or a run folder)."""
    state = checkpoint.load(path)
    config = TrainConfig.from_dict(state["config"])
    model = build_model(config)
    model.load_state_dict(state["model"])
    model.eval()
    return model, config


class LossModule(nn.Module):
    """forward = compute_losses, so DistributedDataParallel sees the whole step."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, text, video) -> dict:
        return self.model.compute_losses(text, video)


def stream(config: TrainConfig, split: str, shuffle: bool, rank: int = 0, world_size: int = 1) -> ShardStream:
    return ShardStream(config.graphs, split, image_size=config.image_size, num_frames=config.num_frames,
                       use_modifiers=config.use_modifiers, shuffle=shuffle, seed=config.seed, rank=rank,
                       world_size=world_size)


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """Backbone parameters at backbone_lr (0: same as lr): a pretrained tower wants a smaller rate than new heads."""
    backbone = [p for n, p in model.named_parameters() if n.startswith("backbone.")]
    heads = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    return [{"params": backbone, "lr": config.backbone_lr or config.lr}, {"params": heads, "lr": config.lr}]


def autocast(config: TrainConfig, device: torch.device):
    dtype = PRECISIONS[config.precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def next_batch(batches, world_size: int, device: torch.device):
    """The next batch, or None when this worker's stream ends; with several workers, None as soon as any one's ends,
    so that no worker waits in a gradient all-reduce for a step the others never take."""
    batch = next(batches, None)
    if world_size > 1:
        has_batch = torch.tensor([0 if batch is None else 1], device=device)
        torch.distributed.all_reduce(has_batch, op=torch.distributed.ReduceOp.MIN)
        return batch if has_batch.item() else None
    return batch


def total_steps(config: TrainConfig, world_size: int) -> int:
    """The steps the run takes: max_steps, or every epoch's batches (each worker reads 1/world_size of the split)."""
    per_epoch = usable_pairs(config.graphs, config.train_split) // world_size // config.batch_size  # drop_last
    all_epochs = config.epochs * per_epoch
    return min(config.max_steps, all_epochs) if config.max_steps else all_epochs


def eta(steady_from: tuple[float, int] | None, step: int, total: int) -> str:
    """Time left at the rate since `steady_from` (time, step): the first step's start-up is not counted."""
    if steady_from is None or step <= steady_from[1]:
        return "?"
    per_step = (time.perf_counter() - steady_from[0]) / (step - steady_from[1])
    return f"{per_step * max(0, total - step):.0f}s"


def train_step(module: nn.Module, optimizer, scaler, text, video, config: TrainConfig, device: torch.device) -> dict:
    """One optimiser step on one batch (both train_loop and fit run this); returns the loss terms."""
    module.train()
    with autocast(config, device):
        terms = module(text, video)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms["loss"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return terms


def mirror_to_tensorboard(board, metrics: dict) -> None:
    """One metrics.jsonl line as TensorBoard scalars at its step (`board`: a tensorboardX SummaryWriter whose event
    file sits beside metrics.jsonl; it writes every flush_secs and on close)."""
    for key, value in metrics.items():
        if key != "step":
            board.add_scalar(key, value, metrics["step"])


def train_loop(loop_config: dict) -> None:
    """Runs on every Ray Train worker."""
    import ray.train
    import ray.train.torch

    # Ray Train 2.60 logs every report ("Reporting training result N: TrainingReport(...metrics dict...)") under a
    # logger named by its file's path, outside "ray.train" and so outside LoggingConfig's level: give it that level.
    report_module = sys.modules.get("ray.train.v2._internal.execution.context")
    if report_module is not None and hasattr(report_module, "logger"):
        report_module.logger.setLevel(logging.WARNING)
    loop_config = dict(loop_config)
    unregistered = loop_config.pop("unregistered_checkpoint", None)
    config = TrainConfig.from_dict(loop_config)
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    torch.manual_seed(config.seed)
    model = build_model(config)
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
    step, epoch, skip_batches, resumed_from = 0, 0, 0, None
    registered, state = ray.train.get_checkpoint(), None
    if registered:
        with registered.as_directory() as folder:
            state = checkpoint.load(folder)
    elif unregistered:
        state = checkpoint.load(unregistered)
    if state:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, skip_batches = state["step"], state["epoch"], state["batch_in_epoch"]
        resumed_from = step
        if rank == 0:
            print(f"resumed from checkpoint at step {step} (epoch {epoch}, batch {skip_batches})", flush=True)
    module = ray.train.torch.prepare_model(LossModule(model), parallel_strategy_kwargs={"find_unused_parameters": True})
    use_scaler = config.precision == "fp16" and device.type == "cuda"
    scaler = torch.amp.GradScaler(enabled=use_scaler)
    train_stream = stream(config, config.train_split, shuffle=True, rank=rank, world_size=world_size)
    if rank == 0:
        counts = train_stream.manifest["status_counts"]
        print(f"data: {config.graphs}: {len(train_stream.manifest['shards'])} shards, status counts {counts}; "
              "samples with status 'error' are skipped", flush=True)

    def report(metrics: dict, batch_in_epoch: int) -> None:
        """A Ray Train report with a checkpoint (rank 0 writes it); per-step metrics go to stdout and metrics.jsonl."""
        with tempfile.TemporaryDirectory() as folder:
            if rank == 0:
                checkpoint.save(folder, model, config, optimizer, step, epoch, batch_in_epoch, resumed_from)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder) if rank == 0 else None)

    metrics_log = Path(config.run_dir) / config.name / "metrics.jsonl"
    metrics_log.parent.mkdir(parents=True, exist_ok=True)
    board = SummaryWriter(str(metrics_log.parent), flush_secs=10) if rank == 0 else None
    total, steady_from = (total_steps(config, world_size) if rank == 0 else 0), None
    done = bool(config.max_steps) and step >= config.max_steps
    batch_in_epoch = skip_batches
    while epoch < config.epochs and not done:
        train_stream.set_epoch(epoch)
        batch_in_epoch = 0
        waited = time.perf_counter()
        batches = iter(loader(train_stream, config.batch_size, config.loader_workers, drop_last=True))
        while (batch := next_batch(batches, world_size, device)) is not None:
            text, video = batch
            if batch_in_epoch < skip_batches:
                batch_in_epoch += 1
                waited = time.perf_counter()
                continue
            started = time.perf_counter()
            terms = train_step(module, optimizer, scaler, text.to(device), video.to(device), config, device)
            step, batch_in_epoch = step + 1, batch_in_epoch + 1
            metrics = {k: float(v.detach()) for k, v in terms.items()}
            metrics.update(step=step, epoch=epoch, batch_size=text.num_graphs, data_wait_s=started - waited,
                           step_s=time.perf_counter() - waited)
            if rank == 0:
                steady_from = steady_from or (time.perf_counter(), step)
                print(f"step {step:5d}/{total} epoch {epoch} ETA {eta(steady_from, step, total)} "
                      + " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k not in ("step", "epoch")), flush=True)
                with metrics_log.open("a") as f:
                    f.write(json.dumps(metrics) + "\n")
                mirror_to_tensorboard(board, metrics)
            done = bool(config.max_steps) and step >= config.max_steps
            if done or step % config.checkpoint_every == 0:
                report(metrics, batch_in_epoch)
            if done:
                break
            waited = time.perf_counter()
        skip_batches = 0
        if not done:
            epoch, batch_in_epoch = epoch + 1, 0

    results = {}
    if rank == 0:
        board.close()
        eval_stream = stream(config, config.eval_split, shuffle=False)
        results = retrieval(model, loader(eval_stream, config.batch_size), device)
        print(format_retrieval(results), flush=True)
        out = Path(config.run_dir) / config.name / "retrieval.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
    flat = {f"{path}_{direction}_{k}": v for path, directions in results.items() if isinstance(directions, dict)
            for direction, recalls in directions.items() for k, v in recalls.items()}
    # With a checkpoint, so that Result.metrics (the latest checkpoint's) carries the retrieval figures.
    report({"step": step, "epoch": epoch, "final": 1, **flat}, batch_in_epoch)


def unregistered_checkpoint(config: TrainConfig) -> str | None:
    """The newest readable checkpoint of the run when Ray Train has no record of it.

    Ray Train resumes from the checkpoints its controller registered (checkpoint_manager_snapshot.json). A run killed
    between a worker writing a checkpoint and the controller recording it leaves checkpoints but no record: resume
    from the newest of those instead of starting over. With a record, Ray Train's own choice stands."""
    folder = Path(config.run_dir) / config.name
    if not folder.is_dir() or (folder / "checkpoint_manager_snapshot.json").is_file():
        return None
    found = checkpoint.newest(folder)
    if found is not None:
        print(f"resuming from {found.parent} (written, not yet recorded by Ray Train)", flush=True)
    return str(found.parent) if found is not None else None


def train(config: TrainConfig):
    """Run TorchTrainer on the cluster Ray connects to (the job's, or a local one); returns the Ray Train Result."""
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    # Ray Train's print patch sends each print to its logger and, as Ray redirects the workers' stdout, to stdout
    # too: every line would show twice. Plain prints reach the driver once through Ray's log forwarding.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")

    trainer = TorchTrainer(
        train_loop,
        train_loop_config={**asdict(config), "unregistered_checkpoint": unregistered_checkpoint(config)},
        scaling_config=ScalingConfig(num_workers=config.num_workers, use_gpu=config.use_gpu,
                                     resources_per_worker={"CPU": config.cpus_per_worker}),
        run_config=RunConfig(name=config.name, storage_path=config.run_dir,
                             checkpoint_config=CheckpointConfig(num_to_keep=2),
                             failure_config=FailureConfig(max_failures=config.max_failures),
                             # Ray Train's own INFO lines (worker group set-up, each checkpoint, each report with
                             # its metrics dict) repeat what the step lines say; its warnings and errors still show,
                             # and its log files under the session folder keep every level.
                             logging_config=LoggingConfig(log_level="WARNING")),
    )
    result = trainer.fit()
    print(f"checkpoint: {result.checkpoint.path if result.checkpoint else None}", flush=True)
    return result


def fit(config: TrainConfig, pairs: list | None = None, device: str = "cpu") -> nn.Module:
    """Train in this process, without Ray: the same model, losses and step as train_loop; returns the model.

    For many short runs (the compositional benchmark), where Ray Train's start-up would dominate. `pairs`, a list of
    (TextGraph, VideoGraph) already decoded, replaces the streamed train split. No checkpoints, no resume.
    """
    device = torch.device(device)
    torch.manual_seed(config.seed)
    model = build_model(config).to(device)
    module = LossModule(model)
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(enabled=config.precision == "fp16" and device.type == "cuda")
    train_stream = None if pairs is not None else stream(config, config.train_split, shuffle=True)
    step = 0
    for epoch in range(config.epochs):
        if train_stream is not None:
            train_stream.set_epoch(epoch)
            batches = loader(train_stream, config.batch_size, config.loader_workers, drop_last=True)
        else:
            order = torch.Generator().manual_seed(config.seed * 1000 + epoch)
            batches = torch.utils.data.DataLoader(pairs, batch_size=config.batch_size, shuffle=True,
                                                  collate_fn=collate, generator=order,
                                                  drop_last=len(pairs) > config.batch_size)
        for text, video in batches:
            train_step(module, optimizer, scaler, text.to(device), video.to(device), config, device)
            step += 1
            if config.max_steps and step >= config.max_steps:
                return model
    return model
