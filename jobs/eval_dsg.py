"""DSG quality on the demo dataset: object recall/precision at IoU 0.5, IDF1, relation triple recall.

  python jobs/eval_dsg.py --data-root data/demo [--weights pipeline/demo/weights/shapes_yolov8n.pt] [--oracle]
Generates the demo data if absent (python -m pipeline.demo.generate). The matching rules are in
pipeline/evaluate_dsg.py.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jobs.cli import config_from_args, parser_for  # noqa: E402
from pipeline.evaluate_dsg import EvalDSGConfig, evaluate, format_table  # noqa: E402


def main(argv=None) -> int:
    config = config_from_args(EvalDSGConfig, parser_for(EvalDSGConfig, __doc__).parse_args(argv))
    if not (Path(config.data_root) / "val_1.json").is_file() or not (Path(config.data_root) / "videos").is_dir():
        print(f"[eval-dsg] no demo data in {config.data_root}; generating it", flush=True)
        subprocess.run([sys.executable, "-m", "pipeline.demo.generate", "--out", config.data_root], check=True,
                       cwd=REPO)
    metrics = evaluate(config)
    print(f"detector: {json.dumps(metrics['detector'])}")
    print(format_table(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
