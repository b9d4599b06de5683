"""The compositional benchmark and ablation table on the demo (make eval):

  python jobs/evaluate.py [--data-root data/demo] [--out out/demo/eval] [--seeds 3] [--max-steps 300]

1. the demo dataset and its graph shards, generated and built when absent (--num-videos sets the size then);
2. the hard-negative captions of test_compositional.json parsed into TSG rows -> OUT/negatives_tsg.parquet;
3. every configuration (backbone alone, backbone + Finsta, eight ablations) trained in this process for the same steps
   on the train split, once per seed, and scored on the val clips -> a printed table, OUT/compositional.csv
   (mean ± std), OUT/compositional_seeds.csv, OUT/compositional.png, OUT/targets.txt (met or not); the full model
   of the first seed is kept for the report's HSG pictures (--keep).
A larger demo and model (more signal; written for a GPU, untested on one here): --data-root data/demo400
--graphs out/demo400/graphs --num-videos 400 --device cuda --max-steps 2000 --image-size 64 --dim 128 --seeds 5.
A quick look on CPU: --seeds 1 --max-steps 100.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.cli import HelpFormatter
from model import compositional
from model.trainer import TrainConfig
from pipeline.parse_captions import CaptionParser
from pipeline.runner import BuildGraphsConfig, run
from schemas import manifest, tsg
from schemas.common import STATUS_OK


def ensure_graphs(data_root: Path, graphs: Path, num_videos: int) -> None:
    """Generate the demo (when absent) and build its shards (when missing or short of samples; the build resumes)."""
    if not (data_root / "test_compositional.json").is_file():
        from pipeline.demo.generate import DemoConfig, generate

        print(f"== generating the demo dataset ({num_videos} videos) into {data_root}", flush=True)
        generate(data_root, DemoConfig(num_videos=num_videos))
    expected = sum(len(v["sentences"]) for name in ("train.json", "val_1.json")
                   for v in json.loads((data_root / name).read_text()).values())
    built = 0
    if (graphs / manifest.FILENAME).is_file():
        built = sum(s["num_rows"] for s in manifest.read(graphs)["shards"])
    if built < expected:
        print(f"== building graph shards of {data_root} into {graphs} ({built} of {expected} samples there)",
              flush=True)
        run(BuildGraphsConfig(dataset="demo", data_root=str(data_root), out=str(graphs)))
    else:
        print(f"== graph shards: {graphs} ({built} samples)", flush=True)


def parse_negatives(data_root: Path, path: Path) -> Path:
    """test_compositional.json's negative captions -> TSG rows (+ clip_sample_id, negative_index, kind), a parquet file.

    A negative's sample_id is '{clip sample_id}/negative-{index}' (sample ids are unique within a TSG table)."""
    entries = json.loads((data_root / "test_compositional.json").read_text())
    keys = [(e, i, n) for e in entries for i, n in enumerate(e["negatives"])]
    batch = {"sample_id": [f"{e['sample_id']}/negative-{i}" for e, i, _ in keys],
             "video_id": [e["video_id"] for e, _, _ in keys],
             "split": ["val"] * len(keys), "caption": [n["caption"] for _, _, n in keys],
             "status": [STATUS_OK] * len(keys), "error_message": [None] * len(keys)}
    rows = CaptionParser()(batch)
    table = pa.Table.from_pydict(rows, schema=tsg.SCHEMA)
    table = table.append_column("clip_sample_id", pa.array([e["sample_id"] for e, _, _ in keys], pa.string()))
    table = table.append_column("negative_index", pa.array([i for _, i, _ in keys], pa.int32()))
    table = table.append_column("kind", pa.array([n["kind"] for _, _, n in keys], pa.string()))
    tsg.validate(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    errors = sum(s != STATUS_OK for s in rows["status"])
    print(f"== {len(keys)} negative captions of {len(entries)} val clips parsed ({errors} errors) -> {path}",
          flush=True)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--data-root", default="data/demo", help="demo dataset folder (generated when absent)")
    parser.add_argument("--graphs", default="out/demo/graphs", help="its graph shards (built when absent)")
    parser.add_argument("--out", default="out/demo/eval", help="folder for the table, CSVs and plot")
    parser.add_argument("--keep", default="out/demo/runs/compositional-finsta",
                        help="folder for the full model of the first seed (the report's HSG pictures); '' for none")
    parser.add_argument("--num-videos", type=int, default=40, help="demo size when the demo is generated here")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per configuration")
    parser.add_argument("--configurations", nargs="+", default=list(compositional.CONFIGURATIONS),
                        choices=list(compositional.CONFIGURATIONS), metavar="NAME",
                        help=f"which of {list(compositional.CONFIGURATIONS)}")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    # One thread: these models are small, and two threads on a shared 2-core machine ran 7x slower (spin-waiting).
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    training = parser.add_argument_group("training, the same for every configuration")
    training.add_argument("--backbone", default="tiny")
    training.add_argument("--max-steps", type=int, default=300)
    training.add_argument("--batch-size", type=int, default=16)
    training.add_argument("--lr", type=float, default=3e-4)
    training.add_argument("--dim", type=int, default=64)
    training.add_argument("--num-layers", type=int, default=2)
    training.add_argument("--image-size", type=int, default=32)
    training.add_argument("--num-frames", type=int, default=8)
    training.add_argument("--seed", type=int, default=0, help="first seed")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data_root, graphs, out = Path(args.data_root).resolve(), Path(args.graphs).resolve(), Path(args.out).resolve()

    ensure_graphs(data_root, graphs, args.num_videos)
    negatives = parse_negatives(data_root, out / "negatives_tsg.parquet")
    base = TrainConfig(graphs=str(graphs), run_dir=str(out), name="compositional", backbone=args.backbone,
                       max_steps=args.max_steps, epochs=10**6, batch_size=args.batch_size, lr=args.lr, dim=args.dim,
                       num_layers=args.num_layers, image_size=args.image_size, num_frames=args.num_frames,
                       seed=args.seed, use_gpu=args.device.startswith("cuda"))
    bench = compositional.BenchmarkConfig(out=str(out), configurations=tuple(args.configurations), seeds=args.seeds)
    print("training " + json.dumps({k: v for k, v in dataclasses.asdict(base).items()
                                    if k in ("backbone", "max_steps", "batch_size", "lr", "dim", "num_layers",
                                             "image_size", "num_frames", "seed")})
          + f", {bench.seeds} seed(s), {len(bench.configurations)} configuration(s)", flush=True)
    data = compositional.load_data(graphs, negatives, args.image_size, args.num_frames)
    print(f"== {len(data.train)} train pairs, {len(data.val)} val clips, {len(data.negatives)} hard negatives",
          flush=True)
    keep = str(Path(args.keep).resolve()) if args.keep else None
    rows = compositional.run_benchmark(base, data, bench, args.device, keep=keep)

    summary = compositional.summarise(rows)
    print("\nCompositional split (val clips vs their hard negatives), mean ± std over seeds; headline path per model:"
          "\n  structure = Finsta's part-by-part scoring of TSG vs DSG through the HSG cross edges,"
          "\n  graph = pooled TSG vs DSG, backbone = pooled, no graphs (Finsta's plug-and-play)")
    print(compositional.format_table(summary))
    print("\nTargets:")
    for line in compositional.verdict(summary):
        print("  " + line)
    print(f"\nwritten: {out / 'compositional.csv'}, {out / 'compositional_seeds.csv'}, {out / 'compositional.png'}, "
          f"{out / 'targets.txt'}"
          + (f"; model kept in {keep}" if keep and compositional.FULL in bench.configurations else ""))
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
