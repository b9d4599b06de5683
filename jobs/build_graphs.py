"""Build TSG + DSG graph shards for a dataset with the Ray Data pipeline.

  python -m jobs.build_graphs --dataset activitynet --data-root /data/anet --out /data/anet_graphs --weights yolov8n.pt
Rerunning the same command resumes; --overwrite starts over. Set RAY_ADDRESS to run on a cluster.
"""

import json
from pathlib import Path

from jobs.cli import config_from_args, parser_for
from pipeline.runner import BuildGraphsConfig, run, run_plain


def main(argv=None) -> int:
    parser = parser_for(BuildGraphsConfig, __doc__)
    parser.add_argument("--no-ray", action="store_true", help="run the stages in this process without Ray")
    args = parser.parse_args(argv)
    config = config_from_args(BuildGraphsConfig, args)
    summary = (run_plain if args.no_ray else run)(config)
    print(json.dumps(summary, indent=2))
    out = Path(config.out)
    print(f"\nShards: {out}/tsg/*.parquet, {out}/dsg/*.parquet; manifest: {out}/manifest.json\n"
          f"Look at them: python -c \"import pandas as pd; print(pd.read_parquet('{out}/tsg').head())\"\n"
          f"          or: duckdb -c \"SELECT status, count(*) FROM '{out}/dsg/*.parquet' GROUP BY status\"")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
