"""Learned caption parser against the rules on one core: captions/s and peak RSS, each in a fresh process.

    python -m bench.tsg_learned [--gold ../shared/eval/factual_sg_dev.csv] [--repeat 2] [--rounds 3]
Variants: bare spaCy `nlp.pipe`, rules (pipe + parse_doc), learned (pipe + rules + repairs + learned decisions).
Rates are on process CPU time with one torch thread (a shared machine disturbs it less than wall time); the best
of --rounds counts. Peak RSS is the process's ru_maxrss. Goal: learned >= 300 captions/s.
"""

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("bare", "rules", "learned")


def run_variant(variant: str, captions: list[str], rounds: int) -> dict:
    from pipeline.parse_captions import DEFAULT_MODEL, load_spacy, parse_doc

    nlp = load_spacy(DEFAULT_MODEL)
    learned = None
    if variant == "learned":  # torch only where it is used, so the rules' RSS is the rules' own
        import torch

        from pipeline.learned_parser.parse import LearnedParser

        torch.set_num_threads(1)
        learned = LearnedParser(nlp=nlp)

    def once():
        if variant == "bare":
            for _ in nlp.pipe(captions, batch_size=256):
                pass
        elif variant == "rules":
            for doc in nlp.pipe(captions, batch_size=256):
                parse_doc(doc, nlp)
        else:
            learned.parse(captions)

    once()  # warm-up (lookups, caches)
    best_cpu = best_wall = float("inf")
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        once()
        best_cpu, best_wall = min(best_cpu, time.process_time() - cpu), min(best_wall, time.perf_counter() - wall)
    return {"variant": variant, "cpu_rate": len(captions) / best_cpu, "wall_rate": len(captions) / best_wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", default=str(REPO.parent / "shared/eval/factual_sg_dev.csv"),
                        help="a csv with a 'caption' column (default: the FACTUAL dev split)")
    parser.add_argument("--repeat", type=int, default=2, help="use the captions this many times over")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per variant; the best counts")
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant in this process and print JSON")
    args = parser.parse_args(argv)
    gold = Path(args.gold)
    if not gold.is_file():
        print(f"error: captions csv '{gold}' not found — pass --gold with a csv that has a 'caption' column",
              file=sys.stderr)
        return 2
    if args.variant:
        with open(gold, newline="", encoding="utf-8") as f:
            captions = [row["caption"] for row in csv.DictReader(f)] * args.repeat
        print(json.dumps(run_variant(args.variant, captions, args.rounds)))
        return 0
    results = {}
    for variant in VARIANTS:
        command = [sys.executable, "-m", "bench.tsg_learned", "--variant", variant, "--gold", str(gold),
                   "--repeat", str(args.repeat), "--rounds", str(args.rounds)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{'variant':>8} {'captions/s (cpu)':>17} {'captions/s (wall)':>18} {'peak RSS MB':>12} {'/ bare':>7}")
    for variant, r in results.items():
        print(f"{variant:>8} {r['cpu_rate']:17.0f} {r['wall_rate']:18.0f} {r['peak_rss_mb']:12.0f} "
              f"{r['cpu_rate'] / results['bare']['cpu_rate']:7.2f}")
    print(f"learned >= 300 captions/s on one core: {results['learned']['cpu_rate'] >= 300}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
