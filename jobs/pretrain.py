"""Train Finsta on graph shards with Ray Train; submit it to a cluster with

  ray job submit --address http://127.0.0.1:8265 --working-dir . -- python -m jobs.pretrain \\
      --graphs /abs/out/demo/graphs --run-dir /abs/out/demo/runs/pretrain [--backbone clip:/abs/clip] [--no-use-ptc]
(`make pretrain` does it through jobs/submit.sh). Every field of model.trainer.TrainConfig (and of its
model.finsta.FinstaConfig) is a flag; unknown flags are rejected. Paths must be absolute: the job runs in Ray's copy
of the working directory. Rerunning with the same --run-dir and --name resumes from the latest checkpoint.
"""

import sys

from jobs.cli import config_from_args, parser_for
from model.trainer import TrainConfig, train


def main(argv=None) -> int:
    parser = parser_for(TrainConfig, __doc__)
    result = train(config_from_args(TrainConfig, parser.parse_args(argv), parser))
    if result.error:
        print(f"training failed: {result.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
