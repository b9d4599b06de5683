"""Retrain the demo shape detector (YOLOv8n from yolov8n.yaml, no pretrained weights) and print its mAP50.

  python jobs/train_detector.py --data-root data/demo
Generates the demo data if absent; writes pipeline/demo/weights/shapes_yolov8n.pt; runs go to <data-root>/runs/.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.cli import config_from_args, parser_for
from pipeline.demo.train_detector import DetectorConfig, train_detector


def main(argv=None) -> int:
    config = config_from_args(DetectorConfig, parser_for(DetectorConfig, __doc__).parse_args(argv))
    print(json.dumps(train_detector(config), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
