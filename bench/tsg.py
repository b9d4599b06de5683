"""Caption parser throughput: bare `nlp.pipe` against the full CaptionParser stage on the same captions, one run.

    python -m bench.tsg [--gold ../shared/eval/factual_sg_dev.csv] [--repeat 3] [--batch-size 256]
Both use the stage's own spaCy pipeline (same model, same excluded pipes). Prints captions/s of each, the ratio
stage / bare (goal >= 0.80: the rules cost little next to the parse), the best of --rounds alternating runs, and
peak memory. Rates are on this process's CPU time, which other work on a shared machine disturbs far less than
wall time (both are printed).
"""

import argparse
import csv
import resource
import sys
import time
from pathlib import Path

import psutil


from pipeline.eval.tsg import DEFAULT_GOLD
from pipeline.parse_captions import DEFAULT_MODEL, CaptionParser


def as_batches(captions: list[str], batch_size: int) -> list[dict]:
    batches = []
    for start in range(0, len(captions), batch_size):
        chunk = captions[start:start + batch_size]
        n = len(chunk)
        batches.append({
            "sample_id": [f"bench_{start + i}#0" for i in range(n)],
            "video_id": [f"bench_{start + i}" for i in range(n)],
            "split": ["val"] * n, "video_path": ["/none.mp4"] * n, "start": [0.0] * n, "end": [1.0] * n,
            "caption": chunk, "status": ["ok"] * n, "error_message": [None] * n,
        })
    return batches


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", default=str(DEFAULT_GOLD),
                        help="a csv with a 'caption' column (default: the FACTUAL dev split)")
    parser.add_argument("--repeat", type=int, default=3, help="use the captions this many times over")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/stage runs; the best of each counts")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)

    gold = Path(args.gold)
    if not gold.is_file():
        raise FileNotFoundError(f"captions csv '{gold}' not found; pass --gold with a csv that has a 'caption' column.")
    with open(gold, newline="", encoding="utf-8") as f:
        captions = [row["caption"] for row in csv.DictReader(f)] * args.repeat
    process = psutil.Process()
    rss_start = process.memory_info().rss
    stage = CaptionParser(model_name=args.model, batch_size=args.batch_size)
    rss_loaded = process.memory_info().rss
    nlp = stage.nlp
    batches = as_batches(captions, args.batch_size)
    print(f"[bench-tsg] {len(captions)} captions, model {args.model} (pipes {nlp.pipe_names}), "
          f"batch {args.batch_size}, {args.rounds} rounds", flush=True)

    stage(batches[0])  # warm-up
    times = {"bare": [], "stage": []}  # (cpu seconds, wall seconds) per round
    for round_index in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in nlp.pipe(captions, batch_size=args.batch_size):
            pass
        times["bare"].append((time.process_time() - cpu, time.perf_counter() - wall))
        cpu, wall = time.process_time(), time.perf_counter()
        errors = 0
        for batch in batches:  # rows are dropped batch by batch, as a streaming runner does
            errors += sum(status != "ok" for status in stage(batch)["status"])
        times["stage"].append((time.process_time() - cpu, time.perf_counter() - wall))
        print(f"[bench-tsg] round {round_index + 1}: bare {times['bare'][-1][0]:.2f} s cpu, "
              f"stage {times['stage'][-1][0]:.2f} s cpu", flush=True)

    best = {name: (min(c for c, _ in runs), min(w for _, w in runs)) for name, runs in times.items()}
    rate = {name: (len(captions) / cpu, len(captions) / wall) for name, (cpu, wall) in best.items()}
    print("| what | captions/s (cpu) | captions/s (wall) | best cpu seconds |")
    print("|---|---|---|---|")
    print(f"| bare nlp.pipe | {rate['bare'][0]:.0f} | {rate['bare'][1]:.0f} | {best['bare'][0]:.2f} |")
    print(f"| CaptionParser stage | {rate['stage'][0]:.0f} | {rate['stage'][1]:.0f} | {best['stage'][0]:.2f} |")
    print(f"| stage / bare | {rate['stage'][0] / rate['bare'][0]:.2f} | {rate['stage'][1] / rate['bare'][1]:.2f} "
          "| goal >= 0.80 |")
    print(f"| RSS: model loaded | {(rss_loaded - rss_start) / 2**20:+.0f} MiB over {rss_start / 2**20:.0f} MiB | | |")
    print(f"| RSS after the runs | {process.memory_info().rss / 2**20:.0f} MiB | | |")
    print(f"| peak RSS of the process | {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB | | |")
    print(f"| error rows (no object found) | {errors} of {len(captions)} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
