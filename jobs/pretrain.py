"""Train Finsta on graph shards with Ray Train; submit it to a cluster with

  ray job submit --address http://127.0.0.1:8265 --working-dir . -- python -m jobs.pretrain \\
      --graphs /abs/out/demo/graphs --run-dir /abs/out/demo/runs/pretrain [--backbone clip:/abs/clip] [--no-use-ptc]
(`make pretrain` does it through jobs/submit.sh). Every field of model.trainer.TrainConfig (and of its
model.finsta.FinstaConfig) is a flag; unknown flags are rejected. Relative --graphs and --run-dir are taken from the
current folder (under `ray job submit` that is Ray's copy of the working directory, which holds no data: give
absolute paths there). Every input is checked before Ray starts. Rerunning with the same --run-dir and --name resumes
from the latest checkpoint.
"""

import sys
from pathlib import Path

from jobs.cli import config_from_args, parser_for, run_job
from model.checks import check_train
from model.trainer import TrainConfig, build_model, train
from pipeline.ray_connect import connect


def main(argv=None) -> int:
    parser = parser_for(TrainConfig, __doc__)
    args = parser.parse_args(argv)
    args.graphs, args.run_dir = str(Path(args.graphs).resolve()), str(Path(args.run_dir).resolve())
    config = config_from_args(TrainConfig, args, parser)
    check_train(config, build_model)
    connect()
    result = train(config)
    if result.error:
        print(f"training failed: {result.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
