"""Retrain the demo shape detector (YOLOv8n from yolov8n.yaml, no pretrained weights) and print its mAP50.

  python -m jobs.train_detector --data-root data/demo [--weights-out pipeline/demo/weights/shapes_yolov8n.pt]
Generates the demo data if absent; runs go to <data-root>/runs/ (the weights: runs/shapes/weights/best.pt). The
committed demo weights are replaced only when --weights-out names them.
"""

import json
import sys

from jobs.cli import config_from_args, parser_for, run_job
from pipeline.demo.train_detector import DetectorConfig, train_detector


def main(argv=None) -> int:
    parser = parser_for(DetectorConfig, __doc__)
    config = config_from_args(DetectorConfig, parser.parse_args(argv), parser)
    print(json.dumps(train_detector(config), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
