"""DSG stage throughput: decode alone, detect alone and the full DSGBuilder on the same demo clips, in one run.

    python -m bench.dsg [--data-root data/demo] [--weights PATH (default: the demo detector)] [--clips 24]
Prints clips/s of each, the ratio full / min(decode, detect) (goal >= 0.7: decoding overlaps detection, so the
full stage should cost about as much as the slower of the two) and peak memory. Without the demo detector,
`--random-weights` times a YOLOv8n with random weights built from yolov8n.yaml (same cost).
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil


from pipeline.decode import Decoder
from pipeline.detect import Detector
from pipeline.build_dsg import DSGBuilder
from pipeline.demo import layout


def as_batch(samples: list[dict]) -> dict:
    return {key: [s[key] for s in samples] for key in samples[0]}


def timed(function, batches: list[dict]) -> tuple[float, list]:
    started = time.perf_counter()
    results = [function(batch) for batch in batches]
    return time.perf_counter() - started, results


def random_weights(folder: Path) -> str:
    from ultralytics import YOLO

    path = folder / "random_yolov8n.pt"
    YOLO("yolov8n.yaml").save(str(path))
    return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="data/demo", help="demo dataset (generated when absent)")
    parser.add_argument("--weights", default=str(layout.WEIGHTS))
    parser.add_argument("--random-weights", action="store_true", help="time a random-weights YOLOv8n instead")
    parser.add_argument("--clips", type=int, default=24, help="how many demo segments (train split first)")
    parser.add_argument("--batch-size", type=int, default=8, help="samples per DSGBuilder call, as the runner")
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement; the fastest is kept")
    args = parser.parse_args(argv)

    data_root = Path(args.data_root)
    if not layout.is_generated(data_root):
        from pipeline.demo.generate import generate

        generate(data_root)
    samples = (layout.read_split(data_root, "train") + layout.read_split(data_root, "val"))[:args.clips]
    batches = [as_batch(samples[i:i + args.batch_size]) for i in range(0, len(samples), args.batch_size)]
    with tempfile.TemporaryDirectory() as folder:
        weights = random_weights(Path(folder)) if args.random_weights else args.weights
        settings = {"device": args.device, "imgsz": args.imgsz, "batch_size": args.num_frames * args.batch_size}
        detector = Detector(weights, **settings)
        builder = DSGBuilder(weights, num_frames=args.num_frames, **settings)
    decoder = Decoder(num_frames=args.num_frames, max_side=args.imgsz)
    process = psutil.Process()
    print(f"[bench-dsg] {len(samples)} clips x {args.num_frames} keyframes, imgsz {args.imgsz}, {args.device}, "
          f"weights {weights if not args.random_weights else 'random yolov8n'}", flush=True)

    detector.detect([decoder(batches[0])["frames"][0][0]])  # warm-up: first inference builds the predictor
    builder(batches[0])
    # The machine is shared: each measurement is repeated, interleaved, and its fastest run kept.
    seconds = {"decode": [], "detect": [], "full": []}
    for _ in range(args.repeats):
        elapsed, decoded = timed(decoder, batches)
        seconds["decode"].append(elapsed)
        frames = [[f for clip in batch["frames"] if clip is not None for f in clip] for batch in decoded]
        seconds["detect"].append(timed(detector.detect, frames)[0])
        elapsed, rows = timed(builder, batches)
        seconds["full"].append(elapsed)
    decode_seconds, detect_seconds, full_seconds = (min(seconds[k]) for k in ("decode", "detect", "full"))
    errors = sum(s != "ok" for out in rows for s in out["status"])

    clips = len(samples)
    rates = {"decode alone": clips / decode_seconds, "detect alone": clips / detect_seconds,
             "full DSGBuilder": clips / full_seconds}
    print(f"| stage | clips/s | seconds (best of {args.repeats}) |")
    print("|---|---|---|")
    for (name, rate), elapsed in zip(rates.items(), (decode_seconds, detect_seconds, full_seconds)):
        print(f"| {name} | {rate:.2f} | {elapsed:.2f} |")
    ratio = rates["full DSGBuilder"] / min(rates["decode alone"], rates["detect alone"])
    print(f"| full / min(decode, detect) | {ratio:.2f} | goal >= 0.70 |")
    print(f"| peak RSS of the process | {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB | "
          f"now {process.memory_info().rss / 2**20:.0f} MiB |")
    print(f"| error rows in the full run | {errors} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
