"""Score the caption parsers against FACTUAL gold scene graphs: the shared scorer's P/R/F1 (all tuples, relations)
per parser, then P/R/F1 per kind (objects, attributes, relations, all) for rules and learned side by side.

  python -m jobs.eval_tsg [--gold GOLD.csv] [--parser both|rules|learned] [--pred out/tsg_eval/pred.jsonl]
"""

import dataclasses

from jobs.cli import config_from_args, parser_for, run_job
from pipeline.eval.tsg import EvalTSGConfig, evaluate


def main(argv=None) -> int:
    config = config_from_args(EvalTSGConfig, parser_for(EvalTSGConfig, __doc__).parse_args(argv))
    print(evaluate(**dataclasses.asdict(config)), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_job(main))
