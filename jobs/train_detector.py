"""Retrain the demo shape detector (YOLOv8n from yolov8n.yaml, no pretrained weights) and print its mAP50.

  python -m jobs.train_detector --data-root data/demo
Generates the demo data if absent; writes the demo weights (pipeline/demo/weights/); runs go to <data-root>/runs/.
"""

import json

from jobs.cli import config_from_args, parser_for
from pipeline.demo.train_detector import DetectorConfig, train_detector


def main(argv=None) -> int:
    config = config_from_args(DetectorConfig, parser_for(DetectorConfig, __doc__).parse_args(argv))
    print(json.dumps(train_detector(config), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
