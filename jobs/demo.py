"""The demo end to end: generate the demo videos (if absent), build their graph shards, train Finsta briefly on them,
and draw one sample's graphs, printing where everything is.

  python jobs/demo.py [--data-root data/demo] [--out out/demo] [--max-steps 40]
"""

import argparse
import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.trainer import TrainConfig, train  # noqa: E402
from pipeline.runner import BuildGraphsConfig, run  # noqa: E402
from pipeline.viz.draw_dsg import draw_dsg  # noqa: E402
from pipeline.viz.draw_tsg import draw_tsg  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="data/demo", help="demo dataset folder (generated when absent)")
    parser.add_argument("--out", default="out/demo", help="where shards, runs and pictures go")
    parser.add_argument("--max-steps", type=int, default=60, help="training steps of the short demo run")
    parser.add_argument("--backbone", default="tiny", help="backbone of the demo run (tiny, clip:..., sentence)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    graphs, pictures = out / "graphs", out / "pictures"

    print("== 1/3 build graphs (demo videos are generated on first use)", flush=True)
    build = run(BuildGraphsConfig(dataset="demo", data_root=args.data_root, out=str(graphs)))
    print(f"   {build['ok']} ok / {build['error']} error samples in {build['seconds']} s", flush=True)

    print("== 2/3 train Finsta on the shards (Ray Train, CPU)", flush=True)
    result = train(TrainConfig(graphs=str(graphs), run_dir=str(out / "runs"), name=f"demo-{args.backbone}",
                               backbone=args.backbone, max_steps=args.max_steps))
    if result.error:
        print(f"training failed: {result.error}", file=sys.stderr)
        return 1

    print("== 3/3 draw one sample", flush=True)
    pictures.mkdir(parents=True, exist_ok=True)
    first = sorted(graphs.glob("dsg/part-*.parquet"))[0]
    dsg_row = pq.read_table(first).slice(0, 1).to_pylist()[0]
    tsg_row = pq.read_table(graphs / "tsg" / first.name).slice(0, 1).to_pylist()[0]
    draw_dsg(dsg_row, pictures / "dsg.png")
    draw_tsg(tsg_row, pictures / "tsg.png")

    query = f"SELECT split, status, count(*) FROM '{graphs}/dsg/*.parquet' GROUP BY ALL"
    print(f"""
Done.
  graph shards   {graphs}/tsg/*.parquet, {graphs}/dsg/*.parquet, {graphs}/manifest.json
  training run   {out / 'runs'} (checkpoints; rerun resumes)
  pictures       {pictures}/dsg.png (keyframes, boxes, tracks, relations), {pictures}/tsg.png ("{tsg_row['caption']}")
Look at the shards:
  .venv/bin/python -c "import pandas as pd; print(pd.read_parquet('{graphs}/tsg').head())"
  .venv/bin/python -c "import duckdb; print(duckdb.sql(\\"{query}\\"))"
Next: make pretrain (the same through ray job submit), make eval-dsg, make eval, make report""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
