"""A static HTML report of a graph-shard set (make report GRAPHS=... OUT=... ARGS="--run RUN"):

  python -m jobs.report --graphs out/demo/graphs --out out/demo/report --run out/demo/runs/demo-tiny
      [--num-samples 6] [--checkpoint PATH] [--evaluation out/demo/eval]

Status counts, dataset statistics (class and predicate histograms, objects per keyframe, track lengths, TSG sizes,
error causes by split), and for a sample of rows the keyframes (boxes, track ids, relation arrows) and the TSG.
With --run (a training run folder): its training curves, its R@K, and the HSG cross edges its newest checkpoint
draws; --checkpoint picks another model for the HSG panels. Without either the report has no model panels: no
checkpoint is guessed. The evaluation table and plot of make eval are shown when --evaluation (default
out/demo/eval) holds compositional.csv.
"""

from functools import partial

from jobs.cli import config_from_args, parser_for
from model.checkpoint import newest
from model.eval.cross_edges import coreference_for_rows
from model.trainer import load_trained
from pipeline.viz.report import ReportConfig, evaluation_folder, read_run, write_report


def main(argv=None) -> int:
    config = config_from_args(ReportConfig, parser_for(ReportConfig, __doc__).parse_args(argv))
    run = read_run(config.run) if config.run else None
    cross_edges = source = None
    checkpoint = config.checkpoint or (newest(config.run) if config.run else None)
    if checkpoint is not None:
        model, train_config = load_trained(checkpoint)
        source = f"{checkpoint} (backbone {train_config.backbone})"
        cross_edges = partial(coreference_for_rows, model, config=train_config)
        print(f"HSG cross edges from {source}", flush=True)
    elif config.run:
        print(f"note: run {config.run} has no checkpoint yet: the report has no HSG panels", flush=True)
    else:
        print("note: no --run or --checkpoint: the report has no model panels (training curves, R@K, HSG edges)",
              flush=True)
    page = write_report(config.graphs, config.out, config.num_samples, cross_edges=cross_edges,
                        evaluation=evaluation_folder(config.evaluation), seed=config.seed, run=run,
                        model_source=source)
    print(f"report: {page.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
