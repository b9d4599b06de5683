"""Benchmark build-graphs on the demo: plain loop vs Ray pipeline vs the decode/detect limits, and peak memory.

Prints one table measured in one run on the same clips:
  decode only, detect only     one process each; their serial combination per core gives the limit
  plain loop                   run_plain: the same stages in one process
  Ray pipeline 1x / 4x         run() on the demo and on a demo 4x as large (peak RSS of driver + Ray processes)
Each build is given three ways: end to end; start-up (until the first batch is written: Ray starts its actor
processes, each imports torch and loads its model; the plain loop loads in this process, whose imports are warm);
and the steady rate after that, which is what a long run on a real dataset sees. From the two, the dataset size at
which the end-to-end ratio reaches 1.5x is extrapolated.
Targets on 2 cores: Ray >= 1.5x plain, >= 70 % of the decode+detect limit, peak RSS growth 1x -> 4x <= 1.2x.
  python -m bench.build_graphs [--videos 24] [--workdir out/bench]
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import torch


from bench.memory import PeakRSS
from pipeline.datasets import read_samples
from pipeline.decode import Decoder
from pipeline.demo.generate import DemoConfig, generate
from pipeline.detect import Detector
from pipeline.demo import layout
from pipeline.runner import BuildGraphsConfig, run, run_plain, trained_imgsz


def dataset(workdir: Path, videos: int) -> Path:
    root = workdir / f"demo_{videos}"
    if not layout.is_generated(root):
        generate(root, DemoConfig(num_videos=videos, seed=1), detection=False, verbose=False)
    return root


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=24, help="videos in the 1x dataset")
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--weights", default=str(layout.WEIGHTS))
    parser.add_argument("--workdir", default="out/bench")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    small, large = dataset(workdir, args.videos), dataset(workdir, 4 * args.videos)
    # Rates are measured on the 4x clips, where start-up (Ray, actors loading the detector) weighs least.
    samples = read_samples("demo", large)
    batch = {key: [row[key] for row in samples] for key in samples[0]}
    n = len(samples)
    print(f"{len(read_samples('demo', small))} samples (1x), {n} (4x), {os.cpu_count()} CPUs", file=sys.stderr)

    torch.set_num_threads(1)  # per-core rates: the limit is what every core running decode + detect would reach
    imgsz = trained_imgsz(Path(args.weights))
    detector = Detector(args.weights, imgsz=imgsz)
    decoded, decode_s = timed(lambda: Decoder(num_frames=args.num_frames, max_side=imgsz)(batch))
    detector.detect(decoded["frames"][0][:1])  # warm-up: the first call fuses the model
    _, detect_s = timed(lambda: detector(decoded))

    def build(runner, root, name, threads=None):
        if threads:
            torch.set_num_threads(threads)
        out = workdir / name
        shutil.rmtree(out, ignore_errors=True)
        config = BuildGraphsConfig(dataset="demo", data_root=str(root), out=str(out), weights=args.weights,
                                   num_frames=args.num_frames)
        with PeakRSS() as rss:
            summary, seconds = timed(lambda: runner(config))
        return {"e2e": summary["samples"] / seconds, "steady": summary["steady_samples_per_s"],
                "startup": seconds - summary["steady_s"], "rss": rss.peak}

    import ray
    from ray.data import DataContext

    ray.init(address="local", logging_level="ERROR")
    DataContext.get_current().enable_progress_bars = False
    cores = int(ray.cluster_resources().get("CPU", 1))
    plain_1 = build(run_plain, large, "plain_1thread", threads=1)
    plain_all = build(run_plain, large, "plain_all_threads", threads=cores)
    ray_1x = build(run, small, "ray_1x")
    ray_4x = build(run, large, "ray_4x")

    decode_rate, detect_rate = n / decode_s, n / detect_s
    limit = cores / (1 / decode_rate + 1 / detect_rate)
    mib = lambda b: f"{b / 2**20:.0f} MiB"  # noqa: E731
    rows = [
        ("decode only (1 thread)", f"{decode_rate:.2f}", "", "", ""),
        ("detect only (1 thread)", f"{detect_rate:.2f}", "", "", ""),
        (f"decode+detect limit ({cores} cores)", f"{limit:.2f}", "", "", ""),
        *((label, f"{r['e2e']:.2f}", f"{r['startup']:.1f}", f"{r['steady']:.2f}", mib(r["rss"]) if ray else "")
          for label, r, ray in (("plain loop, 1 torch thread", plain_1, False),
                                (f"plain loop, {cores} torch threads", plain_all, False),
                                ("Ray pipeline 1x", ray_1x, True), ("Ray pipeline 4x", ray_4x, True))),
    ]
    print(f"\n{n} samples (4x); start-up = seconds until the first batch is written; steady = samples/s after it; "
          "peak RSS = this process + all Ray processes it started")
    print(f"{'run':36s} {'end-to-end/s':>12s} {'start-up s':>10s} {'steady/s':>9s} {'peak RSS':>10s}")
    for row in rows:
        print(f"{row[0]:36s} {row[1]:>12s} {row[2]:>10s} {row[3]:>9s} {row[4]:>10s}")
    print(f"\n{'ratio':44s} {'steady':>8s} {'end-to-end':>11s} {'target':>8s}")
    for label, value, target in (
            ("Ray / plain loop (1 thread)", lambda k: ray_4x[k] / plain_1[k], ">= 1.5"),
            (f"Ray / plain loop ({cores} threads)", lambda k: ray_4x[k] / plain_all[k], ""),
            ("Ray / decode+detect limit", lambda k: ray_4x[k] / limit, ">= 0.7")):
        print(f"{label:44s} {value('steady'):>8.2f} {value('e2e'):>11.2f} {target:>8s}")
    print(f"{'peak RSS 4x / 1x':44s} {ray_4x['rss'] / ray_1x['rss']:>8.2f} {'':>11s} {'<= 1.2':>8s}")
    # plain_t(N) = s_p + N / r_p, ray_t(N) = s_r + N / r_r; end to end >= 1.5x once plain_t >= 1.5 ray_t.
    per_sample_gap = 1 / plain_1["steady"] - 1.5 / ray_4x["steady"]
    if per_sample_gap > 0:
        crossover = max(0.0, (1.5 * ray_4x["startup"] - plain_1["startup"]) / per_sample_gap)
        print(f"\nend to end, Ray reaches 1.5x the plain loop from about {crossover:.0f} samples "
              f"(extrapolated from the start-up and steady rates above; this run had {n})")
    else:
        print("\nat these steady rates Ray does not reach 1.5x the plain loop at any dataset size")


if __name__ == "__main__":
    main()
