"""Build TSG + DSG graph shards for a dataset with the Ray Data pipeline.

  python -m jobs.build_graphs --dataset activitynet --data-root /data/anet --out /data/anet_graphs --weights yolov8n.pt
Rerunning the same command resumes; --overwrite starts over. Every input is checked before Ray starts. Without
RAY_ADDRESS the job runs on a local Ray of its own; set RAY_ADDRESS to run on a cluster.
"""

import json
import sys

from jobs.cli import config_from_args, parser_for, run_job
from pipeline.runner import BuildGraphsConfig, run, run_plain


def main(argv=None) -> int:
    parser = parser_for(BuildGraphsConfig, __doc__)
    parser.add_argument("--no-ray", action="store_true", help="run the stages in this process without Ray")
    args = parser.parse_args(argv)
    config = config_from_args(BuildGraphsConfig, args, parser)
    summary = (run_plain if args.no_ray else run)(config)
    print(json.dumps(summary, indent=2))
    out, dirs = config.out.rstrip("/"), summary["stage_dirs"]
    print(f"\nShards: {out}/{dirs['tsg']}/*.parquet, {out}/{dirs['dsg']}/*.parquet; manifest: {out}/manifest.json\n"
          f"Look at them: {sys.executable} -c \"import schemas; "
          f"print(schemas.read_graphs('{out}').to_pandas().head())\"\n"
          f"          or: {sys.executable} -c \"import duckdb; print(duckdb.sql(\\\"SELECT status, count(*) FROM "
          f"'{out}/{dirs['dsg']}/*.parquet' GROUP BY status\\\"))\"")
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
