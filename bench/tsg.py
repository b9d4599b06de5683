"""Caption parser throughput: bare `nlp.pipe`, the CaptionParser stage with the rules and with the learned parser.

    python -m bench.tsg [--gold ../shared/eval/factual_sg_dev.csv] [--repeat 2] [--rounds 3] [--batch-size 256]
Each variant runs in a fresh process, so its peak RSS (ru_maxrss) is its own: torch is imported by the learned
variant only. The stages use their own spaCy pipeline (same model, same excluded pipes) and take the captions in
batches, as a streaming runner gives them. Rates are on process CPU time with one torch thread (other work on a shared
machine disturbs it far less than wall time; both are printed), the best of --rounds. Goals: rules stage / bare >=
0.80 (the rules cost little next to the parse); learned >= 300 captions/s on one core.
"""

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from pipeline.caption_model.tuples import FACTUAL_DEV
from pipeline.caption_rules.parse import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("bare", "rules", "learned")


def as_batches(captions: list[str], batch_size: int) -> list[dict]:
    batches = []
    for start in range(0, len(captions), batch_size):
        chunk = captions[start:start + batch_size]
        n = len(chunk)
        batches.append({
            "sample_id": [f"bench_{start + i}#0" for i in range(n)],
            "video_id": [f"bench_{start + i}" for i in range(n)],
            "split": ["val"] * n, "video_path": ["/none.mp4"] * n, "start": [0.0] * n, "end": [1.0] * n,
            "caption": chunk, "previous_captions": [None] * n, "status": ["ok"] * n, "error_message": [None] * n,
        })
    return batches


def run_variant(variant: str, captions: list[str], rounds: int, batch_size: int, model: str) -> dict:
    from pipeline.parse_captions import CaptionParser

    stage = CaptionParser(model_name=model, batch_size=batch_size, parser="rules" if variant == "bare" else variant)
    if variant == "learned":
        import torch

        torch.set_num_threads(1)
    batches = as_batches(captions, batch_size)

    def once() -> int:
        if variant == "bare":
            for _ in stage.nlp.pipe(captions, batch_size=batch_size):
                pass
            return 0
        return sum(status != "ok" for batch in batches for status in stage(batch)["status"])

    once()  # warm-up (lookups, caches)
    best_cpu = best_wall = float("inf")
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        errors = once()
        best_cpu, best_wall = min(best_cpu, time.process_time() - cpu), min(best_wall, time.perf_counter() - wall)
    return {"cpu_rate": len(captions) / best_cpu, "wall_rate": len(captions) / best_wall, "errors": errors,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", default=str(FACTUAL_DEV),
                        help="a csv with a 'caption' column (default: the FACTUAL dev split)")
    parser.add_argument("--repeat", type=int, default=2, help="use the captions this many times over")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per variant; the best counts")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant in this process and print JSON")
    args = parser.parse_args(argv)
    gold = Path(args.gold)
    if not gold.is_file():
        print(f"error: captions csv '{gold}' not found — pass --gold with a csv that has a 'caption' column",
              file=sys.stderr)
        return 2
    with open(gold, newline="", encoding="utf-8") as f:
        captions = [row["caption"] for row in csv.DictReader(f)] * args.repeat
    if args.variant:
        print(json.dumps(run_variant(args.variant, captions, args.rounds, args.batch_size, args.model)))
        return 0
    print(f"[bench-tsg] {len(captions)} captions, model {args.model}, batch {args.batch_size}, best of "
          f"{args.rounds} rounds, one process per variant", flush=True)
    results = {}
    for variant in VARIANTS:
        command = [sys.executable, "-m", "bench.tsg", "--variant", variant, "--gold", str(gold), "--repeat",
                   str(args.repeat), "--rounds", str(args.rounds), "--batch-size", str(args.batch_size),
                   "--model", args.model]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    names = {"bare": "bare nlp.pipe", "rules": "stage, rules", "learned": "stage, learned"}
    print("| what | captions/s (cpu) | captions/s (wall) | / bare (cpu) | peak RSS MiB | error rows |")
    print("|---|---|---|---|---|---|")
    for variant, r in results.items():
        print(f"| {names[variant]} | {r['cpu_rate']:.0f} | {r['wall_rate']:.0f} | "
              f"{r['cpu_rate'] / results['bare']['cpu_rate']:.2f} | {r['peak_rss_mb']:.0f} | {r['errors']} |")
    print(f"| learned / rules (cpu) | {results['learned']['cpu_rate'] / results['rules']['cpu_rate']:.2f} | | | "
          f"{results['learned']['peak_rss_mb'] - results['rules']['peak_rss_mb']:+.0f} | |")
    print(f"goals: rules stage / bare >= 0.80: {results['rules']['cpu_rate'] / results['bare']['cpu_rate'] >= 0.8}; "
          f"learned >= 300 captions/s on one core: {results['learned']['cpu_rate'] >= 300}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
