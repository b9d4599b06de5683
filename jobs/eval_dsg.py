"""DSG quality on the demo dataset: object recall/precision at IoU 0.5, IDF1, relation triple recall.

  python -m jobs.eval_dsg --data-root data/demo [--weights PATH] [--relation-head PATH] [--oracle]
Generates the demo data if absent. The matching rules are in pipeline/eval/dsg.py.
"""

from jobs.cli import config_from_args, parser_for, run_job
from pipeline.eval.dsg import EvalDSGConfig, evaluate, format_table


def main(argv=None) -> int:
    config = config_from_args(EvalDSGConfig, parser_for(EvalDSGConfig, __doc__).parse_args(argv))
    print(format_table(evaluate(config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_job(main))
