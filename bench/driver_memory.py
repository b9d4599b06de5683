"""Benchmark: the build-graphs driver's memory and CPU stay flat as the dataset grows (TSG stage only).

Each size runs in a fresh driver process (so one run's peak does not hide in the next): a generic dataset of N
captions, `--stages tsg`, with a stand-in caption parser that costs nothing (the stages' cost is not what is
measured here; the driver's is). Then the same command again over the finished shard set: the resume cost.
Prints one table and the ratios, measured in one run. Targets: growth of driver peak RSS and of driver CPU seconds
per 1,000 samples from the small to the large size <= 1.2x; resume over the large set <= 5 s of driver time.
  python -m bench.driver_memory [--sizes 10000 100000] [--workdir out/bench_driver]
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.memory import PeakRSS
from schemas.common import STATUS_OK


BOX = {"kind": "object", "text": "box", "lemma": "box", "token_start": 2, "token_end": 3}


class FreeCaptionParser:
    """Stands in for pipeline.parse_captions.CaptionParser: one valid one-node TSG row per caption."""

    def __init__(self, **_settings):
        pass

    def __call__(self, batch: dict) -> dict:
        rows = len(batch["sample_id"])
        return {"sample_id": batch["sample_id"], "video_id": batch["video_id"], "split": batch["split"],
                "caption": batch["caption"], "nodes": [[BOX]] * rows, "edges": [[]] * rows,
                "status": [STATUS_OK] * rows, "error_message": [None] * rows}


def make_dataset(root: Path, rows: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "v.mp4").write_bytes(b"")  # TSG only: the video is never opened
    with (root / "clips.jsonl").open("w") as f:
        for i in range(rows):
            f.write(json.dumps({"id": f"s{i}", "video": "v.mp4", "caption": f"a red box moves right {i}"}) + "\n")
    return root


def one_size(rows: int, workdir: Path) -> dict:
    """Build then resume `rows` captions in this process; the driver's figures as a dict."""
    import ray
    from ray.data import DataContext

    from pipeline import runner
    from pipeline.demo import layout

    root, out = make_dataset(workdir / f"data_{rows}", rows), workdir / f"graphs_{rows}"
    shutil.rmtree(out, ignore_errors=True)
    ray.init(address="local", logging_level="ERROR", include_dashboard=False)
    DataContext.get_current().enable_progress_bars = False
    runner.stage_classes = lambda: {"tsg": FreeCaptionParser, "dsg": None}
    config = runner.BuildGraphsConfig(dataset="generic", data_root=str(root), annotations="clips.jsonl",
                                      out=str(out), weights=str(layout.WEIGHTS), imgsz=640, stages="tsg")
    me = psutil.Process()
    figures = {}
    for phase in ("build", "resume"):
        cpu_before, start = sum(me.cpu_times()[:2]), time.perf_counter()
        with PeakRSS(interval=0.05, children=False) as peak:
            summary = runner.run(config)
        figures[phase] = {"seconds": time.perf_counter() - start, "cpu_s": sum(me.cpu_times()[:2]) - cpu_before,
                          "peak_rss": peak.peak, "samples": summary["samples"], "ok": summary["ok"],
                          "tsg_shards_missing": summary["shards_missing_a_stage"]["tsg"]}
    ray.shutdown()
    if figures["build"]["ok"] != rows or figures["resume"]["samples"] or figures["resume"]["tsg_shards_missing"]:
        raise RuntimeError(f"{rows} captions: {figures}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=(10_000, 100_000), help="small and large size")
    parser.add_argument("--workdir", default="out/bench_driver")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size, print JSON
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    if args.one:
        print(json.dumps(one_size(args.one, workdir)))
        return
    results = {}
    for rows in args.sizes:
        done = subprocess.run([sys.executable, "-m", "bench.driver_memory", "--one", str(rows), "--workdir",
                               str(workdir)], check=True, capture_output=True, text=True)
        results[rows] = json.loads(done.stdout.strip().splitlines()[-1])
    mib = 2**20
    print("\nTSG-only build, stand-in parser, one fresh driver per size; driver = the process that calls run()")
    print(f"{'samples':>8s} {'phase':>7s} {'wall s':>8s} {'driver CPU s':>13s} {'CPU s / 1k':>11s} "
          f"{'driver peak RSS':>16s}")
    for rows, figures in results.items():
        for phase, f in figures.items():
            print(f"{rows:>8d} {phase:>7s} {f['seconds']:>8.1f} {f['cpu_s']:>13.2f} "
                  f"{1000 * f['cpu_s'] / rows:>11.3f} {f['peak_rss'] / mib:>12.0f} MiB")
    small, large = (results[rows]["build"] for rows in args.sizes)
    growth = large["peak_rss"] / small["peak_rss"]
    cpu_growth = (large["cpu_s"] / args.sizes[1]) / (small["cpu_s"] / args.sizes[0])
    resume = results[args.sizes[1]]["resume"]
    print(f"\n{'ratio':52s} {'measured':>9s} {'target':>8s}")
    print(f"{f'driver peak RSS {args.sizes[1]} / {args.sizes[0]}':52s} {growth:>9.2f} {'<= 1.2':>8s}")
    print(f"{f'driver CPU s per 1k samples {args.sizes[1]} / {args.sizes[0]}':52s} {cpu_growth:>9.2f} "
          f"{'<= 1.2':>8s}")
    print(f"{f'resume over {args.sizes[1]} samples: driver wall s':52s} {resume['seconds']:>9.1f} {'<= 5':>8s}")
    print(f"{f'resume over {args.sizes[1]} samples: driver CPU s':52s} {resume['cpu_s']:>9.1f} {'<= 5':>8s}")


if __name__ == "__main__":
    main()
