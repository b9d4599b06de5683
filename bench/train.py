"""Training cost of Finsta on top of a backbone, measured in one run (no Ray: the step itself).

  python -m bench.train [--graphs out/demo/graphs] [--backbone tiny] [--steps 20]
Prints, for the backbone trained alone (its own pooled InfoNCE) and for backbone + Finsta (graphs, all losses):
step time, the share of it spent waiting for data, and the parameters Finsta adds.
Targets: step time ratio <= 1.5x, data wait <= 10 % of the step; the paper adds 28 % parameters to HD-VILA.
Without --graphs and without demo shards, it runs on tiny synthetic shards (model/synthetic.py).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from model.data import ShardStream, loader
from model.synthetic import write_tiny_shards
from model.trainer import TrainConfig, build_model

ROOT = Path(__file__).resolve().parents[1]


def measure(model, stream, config: TrainConfig, steps: int, warmup: int) -> dict:
    """Train `steps` steps after `warmup`; per step: seconds blocked on the loader and seconds of the whole step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    waits, totals = [], []
    batches = iter(loader(stream, config.batch_size, config.loader_workers))
    for step in range(warmup + steps):
        started = time.perf_counter()
        text, video = next(batches)
        got_batch = time.perf_counter()
        loss = model.compute_losses(text, video)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            waits.append(got_batch - started)
            totals.append(time.perf_counter() - started)
    compute = [total - wait for total, wait in zip(totals, waits)]
    return {"step_s": statistics.median(totals), "compute_s": statistics.median(compute),
            "wait_share": sum(waits) / sum(totals)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", type=Path, default=None, help="shard folder (default: out/demo/graphs if built)")
    parser.add_argument("--backbone", default=TrainConfig.backbone, help="backbone spec, as for jobs.pretrain")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="pairs per step")
    parser.add_argument("--image-size", type=int, default=TrainConfig.image_size, help="keyframe side in pixels")
    parser.add_argument("--num-frames", type=int, default=TrainConfig.num_frames, help="keyframes per clip")
    parser.add_argument("--loader-workers", type=int, default=TrainConfig.loader_workers,
                        help="DataLoader processes that decode shards")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the training process (Ray Train sets 1 per CPU of a worker; on 2 "
                             "shared cores, 2 threads oversubscribe and make steps several times slower)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    graphs = args.graphs or ROOT / "out/demo/graphs"
    if not (graphs / "manifest.json").is_file():
        if args.graphs:
            raise FileNotFoundError(f"No manifest.json in {graphs}; build shards first (make build-graphs).")
        graphs = write_tiny_shards(Path(tempfile.mkdtemp()) / "graphs", num_train=48, rows_per_shard=8)
        print(f"no demo shards at out/demo/graphs: using tiny synthetic shards in {graphs}")
    print(f"bench.train: {graphs}, backbone {args.backbone}, batch {args.batch_size}, {args.steps} steps, "
          f"{args.num_frames} frames of {args.image_size} px, {args.loader_workers} loader worker(s), "
          f"{args.threads} torch thread(s)", flush=True)

    results = {}
    for name in ("backbone only", "backbone + Finsta"):
        torch.manual_seed(0)
        config = TrainConfig(graphs=str(Path(graphs).resolve()), run_dir=tempfile.mkdtemp(), backbone=args.backbone,
                             finsta=name != "backbone only", image_size=args.image_size, num_frames=args.num_frames,
                             batch_size=args.batch_size, loader_workers=args.loader_workers)
        model = build_model(config)
        stream = ShardStream(graphs, "train", image_size=args.image_size, num_frames=args.num_frames, shuffle=True,
                             repeat=True)
        results[name] = measure(model, stream, config, args.steps, args.warmup)
        results[name]["parameters"] = sum(p.numel() for p in model.parameters())
        results[name]["backbone_parameters"] = sum(p.numel() for p in model.backbone.parameters())
        print(f"  {name}: median step {results[name]['step_s'] * 1000:.0f} ms, compute "
              f"{results[name]['compute_s'] * 1000:.0f} ms", flush=True)

    base, finsta = results["backbone only"], results["backbone + Finsta"]
    added = finsta["parameters"] - base["parameters"]
    rows = [
        ("step time, Finsta / backbone only", f"{finsta['step_s'] / base['step_s']:.2f}x", "<= 1.5x"),
        ("  compute only (no data wait)", f"{finsta['compute_s'] / base['compute_s']:.2f}x", "<= 1.5x"),
        ("data wait share, backbone + Finsta", f"{100 * finsta['wait_share']:.1f} %", "<= 10 %"),
        ("data wait share, backbone only", f"{100 * base['wait_share']:.1f} %", "<= 10 %"),
        ("parameters added / backbone", (f"{100 * added / finsta['backbone_parameters']:.0f} % "
         f"({added:,} on {finsta['backbone_parameters']:,})"), "paper: 28 % on HD-VILA"),
    ]
    print(f"\n{'measure':40s} {'value':32s} target")
    for row in rows:
        print(f"{row[0]:40s} {row[1]:32s} {row[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
