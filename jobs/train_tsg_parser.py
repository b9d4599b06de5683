"""Train the learned caption parser on FACTUAL train, choose its thresholds on dev, print dev P/R/F1 per kind.

  python -m jobs.train_tsg_parser [--train-csv ../shared/eval/factual_sg_train.csv] [--dev-csv ...]
Writes pipeline/caption_model/weights/tsg_learned.pt; caches spaCy parses under --cache-dir (out/caption_model).
"""

import sys
from pathlib import Path

from jobs.cli import config_from_args, parser_for
from pipeline.caption_model.train import TrainConfig, train


def main(argv=None) -> int:
    config = config_from_args(TrainConfig, parser_for(TrainConfig, __doc__).parse_args(argv))
    for name in ("train_csv", "dev_csv"):
        if not Path(getattr(config, name)).is_file():
            print(f"error: {name} '{getattr(config, name)}' not found — pass --{name.replace('_', '-')} with the "
                  "path of the FACTUAL csv (../shared/eval/ beside the repo)", file=sys.stderr)
            return 2
    train(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
