"""The demo end to end: generate the demo videos (if absent), build their graph shards, train Finsta briefly on them,
and draw one sample's graphs, printing where everything is.

  python -m jobs.demo [--data-root data/demo] [--out out/demo] [--max-steps 60]
"""

import dataclasses
import sys
from pathlib import Path

import pyarrow.parquet as pq

from jobs.cli import config_from_args, parser_for, run_job
from model.trainer import TrainConfig, train
from pipeline.runner import BuildGraphsConfig, run
from pipeline.viz.draw_dsg import draw_dsg
from pipeline.viz.draw_tsg import draw_tsg
from schemas import manifest


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    data_root: str = dataclasses.field(default="data/demo",
                                       metadata={"help": "demo dataset folder (generated when absent)"})
    out: str = dataclasses.field(default="out/demo", metadata={"help": "where shards, runs and pictures go"})
    max_steps: int = dataclasses.field(default=60, metadata={"help": "training steps of the short demo run"})
    backbone: str = dataclasses.field(default=TrainConfig.backbone,
                                      metadata={"help": "backbone of the demo run (tiny, clip:..., sentence)"})


def main(argv=None) -> int:
    parser = parser_for(DemoConfig, __doc__)
    config = config_from_args(DemoConfig, parser.parse_args(argv), parser)
    out = Path(config.out).resolve()
    graphs, pictures = out / "graphs", out / "pictures"

    print("== 1/3 build graphs (demo videos are generated on first use)", flush=True)
    build = run(BuildGraphsConfig(dataset="demo", data_root=config.data_root, out=str(graphs)))
    print(f"   {build['ok']} ok / {build['error']} error samples in {build['seconds']} s", flush=True)

    print("== 2/3 train Finsta on the shards (Ray Train, CPU)", flush=True)
    result = train(TrainConfig(graphs=str(graphs), run_dir=str(out / "runs"), name=f"demo-{config.backbone}",
                               backbone=config.backbone, max_steps=config.max_steps))
    if result.error:
        print(f"training failed: {result.error}", file=sys.stderr)
        return 1

    print("== 3/3 draw one sample", flush=True)
    pictures.mkdir(parents=True, exist_ok=True)
    first = manifest.read(graphs)["shards"][0]
    dsg_row = pq.read_table(graphs / first["dsg_path"]).slice(0, 1).to_pylist()[0]
    tsg_row = pq.read_table(graphs / first["tsg_path"]).slice(0, 1).to_pylist()[0]
    draw_dsg(dsg_row, pictures / "dsg.png")
    draw_tsg(tsg_row, pictures / "tsg.png")

    tsg_dir, dsg_dir = (graphs / build["stage_dirs"][stage] for stage in ("tsg", "dsg"))
    query = f"SELECT split, status, count(*) FROM '{dsg_dir}/*.parquet' GROUP BY ALL"
    print(f"""
Done.
  graph shards   {tsg_dir}/*.parquet, {dsg_dir}/*.parquet, {graphs}/manifest.json
  training run   {out / 'runs'} (checkpoints; rerun resumes)
  pictures       {pictures}/dsg.png (keyframes, boxes, tracks, relations), {pictures}/tsg.png ("{tsg_row['caption']}")
Look at the shards:
  .venv/bin/python -c "import schemas; print(schemas.read_graphs('{graphs}').to_pandas().head())"
  .venv/bin/python -c "import duckdb; print(duckdb.sql(\\"{query}\\"))"
Next: make pretrain (the same through ray job submit), make eval-dsg, make eval, make report""")
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
