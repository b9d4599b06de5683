"""Benchmark build-graphs on the demo: plain loop vs Ray pipeline vs the decode/detect limits, and peak memory.

Prints one table measured in one run on the same clips:
  decode only, detect only     one process each; their serial combination per core gives the limit
  plain loop                   run_plain: the same stages in one process
  Ray pipeline 1x / 4x         run() on the demo and on a demo 4x as large (peak RSS of driver + Ray processes)
Targets on 2 cores: Ray >= 1.5x plain, >= 70 % of the decode+detect limit, peak RSS growth 1x -> 4x <= 1.2x.
  python bench/build_graphs.py [--videos 24] [--workdir out/bench]
"""

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.datasets import read_samples  # noqa: E402
from pipeline.decode import Decoder  # noqa: E402
from pipeline.demo.generate import DemoConfig, generate  # noqa: E402
from pipeline.detect import Detector  # noqa: E402
from pipeline.runner import DEMO_WEIGHTS, BuildGraphsConfig, run, run_plain, trained_imgsz  # noqa: E402


class PeakRSS:
    """Samples the summed RSS of this process and all its descendants (the local Ray processes) in a thread."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak, self.running = interval, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        me = psutil.Process()
        while self.running:
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


def dataset(workdir: Path, videos: int) -> Path:
    root = workdir / f"demo_{videos}"
    if not (root / "train.json").is_file():
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
    parser.add_argument("--weights", default=str(DEMO_WEIGHTS))
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
        return summary["samples"] / seconds, rss.peak

    import ray
    from ray.data import DataContext

    ray.init(address="local", logging_level="ERROR")
    DataContext.get_current().enable_progress_bars = False
    cores = int(ray.cluster_resources().get("CPU", 1))
    plain_1, _ = build(run_plain, large, "plain_1thread", threads=1)
    plain_all, _ = build(run_plain, large, "plain_all_threads", threads=cores)
    _, rss_1x = build(run, small, "ray_1x")
    ray_rate, rss_4x = build(run, large, "ray_4x")

    decode_rate, detect_rate = n / decode_s, n / detect_s
    limit = cores / (1 / decode_rate + 1 / detect_rate)
    rows = [
        ("decode only (1 thread)", f"{decode_rate:.2f}", ""),
        ("detect only (1 thread)", f"{detect_rate:.2f}", ""),
        (f"decode+detect limit ({cores} cores)", f"{limit:.2f}", ""),
        ("plain loop, 1 torch thread", f"{plain_1:.2f}", ""),
        (f"plain loop, {cores} torch threads", f"{plain_all:.2f}", ""),
        ("Ray pipeline 1x", "", f"{rss_1x / 2**20:.0f} MiB"),
        ("Ray pipeline 4x", f"{ray_rate:.2f}", f"{rss_4x / 2**20:.0f} MiB"),
    ]
    print(f"\n{n} samples; peak RSS = this process + all Ray processes it started")
    print(f"{'run':36s} {'samples/s':>10s} {'peak RSS':>10s}")
    for name, rate, rss in rows:
        print(f"{name:36s} {rate:>10s} {rss:>10s}")
    print(f"\n{'ratio':36s} {'measured':>10s} {'target':>10s}")
    print(f"{'Ray / plain loop (1 thread)':36s} {ray_rate / plain_1:>10.2f} {'>= 1.5':>10s}")
    print(f"{f'Ray / plain loop ({cores} threads)':36s} {ray_rate / plain_all:>10.2f} {'':>10s}")
    print(f"{'Ray / decode+detect limit':36s} {ray_rate / limit:>10.2f} {'>= 0.7':>10s}")
    print(f"{'peak RSS 4x / 1x':36s} {rss_4x / rss_1x:>10.2f} {'<= 1.2':>10s}")


if __name__ == "__main__":
    main()
