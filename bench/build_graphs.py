"""Benchmark build-graphs: plain loop vs Ray pipeline vs the decode/detect limit, measured in one run.

Two settings, each printing one table measured in one run on the same clips:

demo (default)
  decode only, detect only     one process each; their serial combination per core gives the limit
  plain loop                   run_plain: the same stages in one process (1 torch thread, and one per core)
  Ray pipeline 1x / 4x         run() on the demo and on a demo 4x as large (peak RSS of driver + Ray processes)
  Targets on 2 cores: Ray >= 1.5x plain, >= 70 % of the decode+detect limit, peak RSS growth 1x -> 4x <= 1.2x.

--realistic (needs ffmpeg on PATH to make the clips)
  ActivityNet-like clips: 720p h264, 40 s, a keyframe every 4 s with B-frames, 3 caption segments per video and 8
  keyframes each (ActivityNet Captions' layout: train.json + videos/); a COCO-size YOLOv8n (80 classes, built from
  ultralytics' yolov8n.yaml, untrained weights saved locally: the same cost as trained ones) at 640 px. The plain
  loop (one torch thread per core, as torch starts), the Ray pipeline, and the decode+detect limit (measured on
  the first 12 videos' segments, one core, then times the cores).
  Targets on 2 cores, 108 samples (36 videos): Ray end to end >= 1.3x the plain loop and >= 0.8 of the limit.

Each build is given three ways: end to end (run() called to summary returned; Ray itself is started before and
its start is printed apart); start-up (until the first shard is written: actor processes start, import torch and
load their models); and the steady rate after that, which is what a long run on a real dataset sees.
  python -m bench.build_graphs [--videos 24] [--workdir out/bench]
  python -m bench.build_graphs --realistic [--videos 36] [--workdir out/bench]
"""

import argparse
import json
import os
import shutil
import subprocess
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

CLIP = {"width": 1280, "height": 720, "fps": 30, "seconds": 40, "keyframe_every_s": 4, "b_frames": 2}
SEGMENTS_PER_VIDEO = 3
CAPTIONS = ("A man in a red shirt walks a brown dog along the street.",
            "A woman sits on a bench and reads a book next to a bicycle.",
            "Two children throw a ball to each other on the grass.")
LIMIT_VIDEOS = 12


def demo_dataset(workdir: Path, videos: int) -> Path:
    root = workdir / f"demo_{videos}"
    if not layout.is_generated(root):
        generate(root, DemoConfig(num_videos=videos, seed=1), detection=False, verbose=False)
    return root


def activitynet_like_dataset(workdir: Path, videos: int) -> Path:
    """`videos` copies of one ffmpeg test clip (CLIP) under videos/, and a train.json of 3 segments per video.

    Copies cost the decoder what distinct clips of the same codec settings would; encoding 36 clips would not."""
    root = workdir / f"activitynet_like_{videos}"
    clip = root / "clip.mp4"
    if not clip.is_file():
        root.mkdir(parents=True, exist_ok=True)
        gop = CLIP["fps"] * CLIP["keyframe_every_s"]
        source = f"testsrc2=size={CLIP['width']}x{CLIP['height']}:rate={CLIP['fps']}:duration={CLIP['seconds']}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset",
                        "veryfast", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf",
                        str(CLIP["b_frames"]), "-pix_fmt", "yuv420p", str(root / ".clip.mp4")], check=True)
        (root / ".clip.mp4").rename(clip)
    (root / "videos").mkdir(exist_ok=True)
    length = CLIP["seconds"] / SEGMENTS_PER_VIDEO
    annotations = {}
    for v in range(videos):
        video_id = f"v_bench{v:04d}"
        if not (root / "videos" / f"{video_id}.mp4").is_file():
            shutil.copyfile(clip, root / "videos" / f"{video_id}.mp4")
        annotations[video_id] = {"duration": CLIP["seconds"],
                                 "timestamps": [[round(s * length, 2), round((s + 1) * length, 2)]
                                                for s in range(SEGMENTS_PER_VIDEO)],
                                 "sentences": list(CAPTIONS)}
    (root / "train.json").write_text(json.dumps(annotations))
    (root / "val_1.json").write_text("{}")
    return root


def coco_yolov8n(workdir: Path) -> Path:
    """A YOLOv8n with COCO's 80 classes and untrained weights, built from yolov8n.yaml (nothing downloaded)."""
    path = workdir / "yolov8n_coco80_untrained.pt"
    if not path.is_file():
        from ultralytics import YOLO

        workdir.mkdir(parents=True, exist_ok=True)
        YOLO("yolov8n.yaml").save(str(path))
    return path


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def per_core_rates(samples: list[dict], weights: str, num_frames: int, imgsz: int) -> tuple[float, float]:
    """Samples per second of decoding alone and of detection alone, on one thread."""
    batch = {key: [row[key] for row in samples] for key in samples[0]}
    torch.set_num_threads(1)  # per-core rates: the limit is what every core running decode + detect would reach
    detector = Detector(weights, imgsz=imgsz)
    decoded, decode_s = timed(lambda: Decoder(num_frames=num_frames, max_side=imgsz)(batch))
    detector.detect(decoded["frames"][0][:1])  # warm-up: the first call fuses the model
    _, detect_s = timed(lambda: detector(decoded))
    return len(samples) / decode_s, len(samples) / detect_s


def build(runner, out: Path, threads: int | None = None, **settings) -> dict:
    if threads:
        torch.set_num_threads(threads)
    shutil.rmtree(out, ignore_errors=True)
    with PeakRSS() as rss:
        summary, seconds = timed(lambda: runner(BuildGraphsConfig(out=str(out), **settings)))
    return {"samples": summary["samples"], "e2e": summary["samples"] / seconds,
            "steady": summary["steady_samples_per_s"], "startup": seconds - summary["steady_s"], "rss": rss.peak}


def start_ray() -> tuple[int, float]:
    import ray
    from ray.data import DataContext

    _, seconds = timed(lambda: ray.init(address="local", logging_level="ERROR"))
    DataContext.get_current().enable_progress_bars = False
    return int(ray.cluster_resources().get("CPU", 1)), seconds


def print_runs(runs: list[tuple[str, dict | None, float]], with_rss: bool) -> None:
    print(f"{'run':36s} {'end-to-end/s':>12s} {'start-up s':>10s} {'steady/s':>9s} {'peak RSS':>10s}")
    for label, r, rate in runs:
        if r is None:
            print(f"{label:36s} {rate:>12.2f}")
            continue
        rss = f"{r['rss'] / 2**20:.0f} MiB" if with_rss else ""
        steady = f"{r['steady']:.2f}" if r["steady"] else "-"
        print(f"{label:36s} {r['e2e']:>12.2f} {r['startup']:>10.1f} {steady:>9s} {rss:>10s}")


def print_ratios(ratios: list[tuple[str, dict, dict | float, str]]) -> None:
    print(f"\n{'ratio':44s} {'steady':>8s} {'end-to-end':>11s} {'target':>8s}")
    for label, run_, base, target in ratios:
        value = {}
        for k in ("steady", "e2e"):
            denominator = base if isinstance(base, float) else base[k]
            value[k] = f"{run_[k] / denominator:.2f}" if run_[k] and denominator else "-"  # one shard: no steady
        print(f"{label:44s} {value['steady']:>8s} {value['e2e']:>11s} {target:>8s}")


def realistic(workdir: Path, videos: int) -> None:
    if shutil.which("ffmpeg") is None:
        print("error: bench.build_graphs --realistic makes its 720p h264 clips with ffmpeg, which is not on PATH "
              "— install it (apt-get install ffmpeg) or run the demo setting without --realistic.", file=sys.stderr)
        sys.exit(2)
    root, weights = activitynet_like_dataset(workdir, videos), str(coco_yolov8n(workdir))
    samples = read_samples("activitynet", root, splits=("train",))
    n, imgsz, num_frames = len(samples), 640, 8
    print(f"{n} samples ({videos} videos x {SEGMENTS_PER_VIDEO} segments), {os.cpu_count()} CPUs", file=sys.stderr)
    decode_rate, detect_rate = per_core_rates(samples[:LIMIT_VIDEOS * SEGMENTS_PER_VIDEO], weights, num_frames, imgsz)
    cores, ray_start = start_ray()
    limit = cores / (1 / decode_rate + 1 / detect_rate)
    settings = {"dataset": "activitynet", "data_root": str(root), "weights": weights, "imgsz": imgsz,
                "num_frames": num_frames}
    plain = build(run_plain, workdir / "realistic_plain", threads=cores, **settings)
    ray_run = build(run, workdir / "realistic_ray", **settings)
    if plain["samples"] != n or ray_run["samples"] != n:
        raise RuntimeError(f"built {plain['samples']} (plain) and {ray_run['samples']} (Ray) of {n} samples")
    print(f"\n{n} ActivityNet-like samples ({CLIP['height']}p h264, {CLIP['seconds']} s, keyframe every "
          f"{CLIP['keyframe_every_s']} s, {CLIP['b_frames']} B-frames; {num_frames} keyframes per segment), YOLOv8n "
          f"80 classes at {imgsz} px, {cores} cores; Ray's own start ({ray_start:.1f} s) not counted")
    print_runs([("decode only (1 thread)", None, decode_rate), ("detect only (1 thread)", None, detect_rate),
                (f"decode+detect limit ({cores} cores)", None, limit),
                (f"plain loop ({cores} torch threads)", plain, 0.0), ("Ray pipeline", ray_run, 0.0)], with_rss=True)
    print_ratios([("Ray / plain loop", ray_run, plain, ">= 1.3"),
                  ("Ray / decode+detect limit", ray_run, limit, ">= 0.8")])


def demo(workdir: Path, videos: int, num_frames: int, weights: str) -> None:
    small, large = demo_dataset(workdir, videos), demo_dataset(workdir, 4 * videos)
    # Rates are measured on the 4x clips, where start-up (Ray, actors loading the detector) weighs least.
    samples = read_samples("demo", large)
    n = len(samples)
    print(f"{len(read_samples('demo', small))} samples (1x), {n} (4x), {os.cpu_count()} CPUs", file=sys.stderr)
    imgsz = trained_imgsz(Path(weights))
    decode_rate, detect_rate = per_core_rates(samples, weights, num_frames, imgsz)
    cores, _ = start_ray()
    settings = {"dataset": "demo", "weights": weights, "num_frames": num_frames}
    plain_1 = build(run_plain, workdir / "plain_1thread", threads=1, data_root=str(large), **settings)
    plain_all = build(run_plain, workdir / "plain_all_threads", threads=cores, data_root=str(large), **settings)
    ray_1x = build(run, workdir / "ray_1x", data_root=str(small), **settings)
    ray_4x = build(run, workdir / "ray_4x", data_root=str(large), **settings)
    limit = cores / (1 / decode_rate + 1 / detect_rate)
    print(f"\n{n} samples (4x); start-up = seconds until the first batch is written; steady = samples/s after it; "
          "peak RSS = this process + all Ray processes it started")
    print_runs([("decode only (1 thread)", None, decode_rate), ("detect only (1 thread)", None, detect_rate),
                (f"decode+detect limit ({cores} cores)", None, limit),
                ("plain loop, 1 torch thread", plain_1, 0.0), (f"plain loop, {cores} torch threads", plain_all, 0.0),
                ("Ray pipeline 1x", ray_1x, 0.0), ("Ray pipeline 4x", ray_4x, 0.0)], with_rss=True)
    print_ratios([("Ray / plain loop (1 thread)", ray_4x, plain_1, ">= 1.5"),
                  (f"Ray / plain loop ({cores} threads)", ray_4x, plain_all, ""),
                  ("Ray / decode+detect limit", ray_4x, limit, ">= 0.7")])
    print(f"{'peak RSS 4x / 1x':44s} {ray_4x['rss'] / ray_1x['rss']:>8.2f} {'':>11s} {'<= 1.2':>8s}")
    # plain_t(N) = s_p + N / r_p, ray_t(N) = s_r + N / r_r; end to end >= 1.5x once plain_t >= 1.5 ray_t.
    per_sample_gap = 1 / plain_1["steady"] - 1.5 / ray_4x["steady"]
    if per_sample_gap > 0:
        crossover = max(0.0, (1.5 * ray_4x["startup"] - plain_1["startup"]) / per_sample_gap)
        print(f"\nend to end, Ray reaches 1.5x the plain loop from about {crossover:.0f} samples "
              f"(extrapolated from the start-up and steady rates above; this run had {n})")
    else:
        print("\nat these steady rates Ray does not reach 1.5x the plain loop at any dataset size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realistic", action="store_true",
                        help="ActivityNet-like 720p clips and a COCO-size YOLOv8n at 640 px (needs ffmpeg)")
    parser.add_argument("--videos", type=int, help="videos: the demo's 1x dataset (default 24), or the realistic "
                                                   "setting's (default 36, 3 samples each)")
    parser.add_argument("--num-frames", type=int, default=8, help="demo: keyframes per sample")
    parser.add_argument("--weights", default=str(layout.WEIGHTS), help="demo: detector weights")
    parser.add_argument("--workdir", default="out/bench", help="datasets and outputs")
    args = parser.parse_args()
    if args.realistic:
        realistic(Path(args.workdir), args.videos or 36)
    else:
        demo(Path(args.workdir), args.videos or 24, args.num_frames, args.weights)


if __name__ == "__main__":
    main()
