"""`finsta COMMAND [FLAGS]` (or `python -m jobs COMMAND [FLAGS]`): the project's jobs under one command, beside make.

  finsta build-graphs --dataset demo --data-root data/demo --out out/demo/graphs
  finsta pretrain --graphs out/demo/graphs --run-dir out/demo/runs/pretrain
  finsta COMMAND --help      the flags of one command, each with its help and default
"""

import argparse
import importlib
import sys

from jobs.cli import HelpFormatter, Parser, run_job

# command -> (module under jobs/, what it does)
COMMANDS = {
    "demo": ("demo", "generate the demo data, build its graphs, train briefly, draw one sample"),
    "build-graphs": ("build_graphs", "videos + captions -> Parquet graph shards (Ray Data)"),
    "pretrain": ("pretrain", "train Finsta on graph shards (Ray Train)"),
    "eval": ("evaluate", "compositional retrieval benchmark and ablation table on the demo"),
    "eval-dsg": ("eval_dsg", "DSG quality against the demo ground truth"),
    "eval-tsg": ("eval_tsg", "caption parser P/R/F1 against FACTUAL gold scene graphs"),
    "report": ("report", "static HTML report of a graph-shard set"),
    "train-detector": ("train_detector", "retrain the demo shape detector"),
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = Parser(prog="finsta", description=__doc__, formatter_class=HelpFormatter,
                    epilog="commands:\n" + "\n".join(f"  {name:15s} {about}" for name, (_, about) in COMMANDS.items()))
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="one of the commands below")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="the command's flags (COMMAND --help lists them)")
    args = parser.parse_args(argv[:1])
    job = importlib.import_module(f"jobs.{COMMANDS[args.command][0]}")
    sys.argv[0] = f"finsta {args.command}"  # the name the job's --help and usage errors show
    return run_job(job.main, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
