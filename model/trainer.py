"""Ray Train: the only file that touches it. TorchTrainer workers stream shards, train, checkpoint, resume, evaluate.

Checkpoints (model, optimizer, step, epoch, config) are torch.save'd dicts of tensors and plain values in Ray Train
checkpoints under run_dir/name (with metrics.jsonl, one line per step, and retrieval.json); a rerun with the same
run_dir and name resumes from the latest checkpoint, and they are
read back with torch.load(weights_only=True).
"""

import json
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from model.backbones import build_backbone
from model.data import ShardStream, collate, loader
from model.evaluate import format_retrieval, retrieval
from model.finsta import BackboneOnly, FinstaModel

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
STATE_FILE = "state.pt"


@dataclass(frozen=True)
class TrainConfig:
    graphs: str
    run_dir: str
    name: str = "finsta"
    backbone: str = "tiny"
    finsta: bool = True
    dim: int = 64
    num_layers: int = 2
    num_heads: int = 4
    temperature: float = 0.07
    cross_edge_k: int = 1
    use_coarse: bool = True
    use_osc: bool = True
    use_ptc: bool = True
    use_distill: bool = True
    use_stgd: bool = True
    use_temporal_links: bool = True
    use_cross_edges: bool = True
    use_modifiers: bool = True
    graph_text_grad: bool = False
    use_object_phrases: bool = True
    use_hard_negatives: bool = True
    image_size: int = 64
    num_frames: int = 8
    batch_size: int = 16
    epochs: int = 30
    max_steps: int = 0
    lr: float = 1e-3
    backbone_lr: float = 0.0
    weight_decay: float = 0.01
    checkpoint_every: int = 50
    num_workers: int = 1
    cpus_per_worker: float = 1.0
    use_gpu: bool = False
    precision: str = "fp32"
    loader_workers: int = 1
    max_failures: int = 0
    seed: int = 0
    train_split: str = "train"
    eval_split: str = "val"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision '{self.precision}' is not one of {sorted(PRECISIONS)}.")
        for key in ("graphs", "run_dir"):
            if not Path(getattr(self, key)).is_absolute():
                raise ValueError(f"{key} must be an absolute path (the job runs in Ray's copy of the working "
                                 f"directory); got '{getattr(self, key)}'.")


def build_model(config: TrainConfig) -> nn.Module:
    backbone = build_backbone(config.backbone, image_size=config.image_size)
    if not config.finsta:
        return BackboneOnly(backbone, config.dim, config.temperature)
    return FinstaModel(backbone, dim=config.dim, num_layers=config.num_layers, num_heads=config.num_heads,
                       temperature=config.temperature, cross_edge_k=config.cross_edge_k, use_coarse=config.use_coarse,
                       use_osc=config.use_osc, use_ptc=config.use_ptc, use_distill=config.use_distill,
                       use_stgd=config.use_stgd, use_temporal_links=config.use_temporal_links,
                       use_cross_edges=config.use_cross_edges, graph_text_grad=config.graph_text_grad,
                       use_object_phrases=config.use_object_phrases, use_hard_negatives=config.use_hard_negatives)


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


def save_state(folder: str, model: nn.Module, optimizer, step: int, epoch: int, batch_in_epoch: int,
               config: TrainConfig, resumed_from: int | None) -> None:
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
                "batch_in_epoch": batch_in_epoch, "resumed_from": resumed_from, "config": asdict(config)},
               Path(folder) / STATE_FILE)


def load_state(folder: str | Path) -> dict:
    return torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)


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


def train_loop(loop_config: dict) -> None:
    """Runs on every Ray Train worker."""
    import ray.train
    import ray.train.torch

    loop_config = dict(loop_config)
    unregistered = loop_config.pop("unregistered_checkpoint", None)
    config = TrainConfig(**loop_config)
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    torch.manual_seed(config.seed)
    model = build_model(config)
    optimizer = torch.optim.AdamW(parameter_groups(model, config), lr=config.lr, weight_decay=config.weight_decay)
    step, epoch, skip_batches, resumed_from = 0, 0, 0, None
    checkpoint, state = ray.train.get_checkpoint(), None
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = load_state(folder)
    elif unregistered:
        state = load_state(unregistered)
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
                save_state(folder, model, optimizer, step, epoch, batch_in_epoch, config, resumed_from)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder) if rank == 0 else None)

    metrics_log = Path(config.run_dir) / config.name / "metrics.jsonl"
    metrics_log.parent.mkdir(parents=True, exist_ok=True)
    done = bool(config.max_steps) and step >= config.max_steps
    batch_in_epoch = skip_batches
    while epoch < config.epochs and not done:
        train_stream.set_epoch(epoch)
        batch_in_epoch = 0
        waited = time.perf_counter()
        batches = iter(loader(train_stream, config.batch_size, config.loader_workers))
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
                print(f"step {step:5d} epoch {epoch} " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                                 if k not in ("step", "epoch")), flush=True)
                with metrics_log.open("a") as f:
                    f.write(json.dumps(metrics) + "\n")
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
    """The newest readable checkpoint in `folder` when Ray Train has no record of the run.

    Ray Train resumes from the checkpoints its controller registered (checkpoint_manager_snapshot.json). A run killed
    between a worker writing a checkpoint and the controller recording it leaves checkpoints but no record: resume
    from the newest of those instead of starting over. With a record, Ray Train's own choice stands."""
    folder = Path(config.run_dir) / config.name
    if not folder.is_dir() or (folder / "checkpoint_manager_snapshot.json").is_file():
        return None
    for candidate in sorted(folder.glob(f"checkpoint_*/{STATE_FILE}"), reverse=True):
        try:
            load_state(candidate.parent)
        except (RuntimeError, EOFError, OSError) as exc:
            print(f"skipping unreadable checkpoint {candidate.parent}: {exc}", flush=True)
            continue
        print(f"resuming from {candidate.parent} (written, not yet recorded by Ray Train)", flush=True)
        return str(candidate.parent)
    return None


def train(config: TrainConfig):
    """Run TorchTrainer on the cluster Ray connects to (the job's, or a local one); returns the Ray Train Result."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        train_loop,
        train_loop_config={**asdict(config), "unregistered_checkpoint": unregistered_checkpoint(config)},
        scaling_config=ScalingConfig(num_workers=config.num_workers, use_gpu=config.use_gpu,
                                     resources_per_worker={"CPU": config.cpus_per_worker}),
        run_config=RunConfig(name=config.name, storage_path=config.run_dir,
                             checkpoint_config=CheckpointConfig(num_to_keep=2),
                             failure_config=FailureConfig(max_failures=config.max_failures)),
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
            batches = loader(train_stream, config.batch_size, config.loader_workers)
        else:
            order = torch.Generator().manual_seed(config.seed * 1000 + epoch)
            batches = torch.utils.data.DataLoader(pairs, batch_size=config.batch_size, shuffle=True,
                                                  collate_fn=collate, generator=order)
        for text, video in batches:
            train_step(module, optimizer, scaler, text.to(device), video.to(device), config, device)
            step += 1
            if config.max_steps and step >= config.max_steps:
                return model
    return model
