"""A static HTML report of a graph-shard set (make report GRAPHS=... OUT=...):

  python -m jobs.report --graphs out/demo/graphs --out out/demo/report [--num-samples 6] [--checkpoint PATH]
      [--evaluation out/demo/eval]

Status counts, top error causes, and for a sample of rows the keyframes (boxes, track ids, relation arrows), the
TSG, and the HSG cross edges a trained model draws between them (--checkpoint: a state.pt, a checkpoint folder or a
run folder; default: the newest checkpoint under out/demo/runs). The evaluation table and plot of make eval are shown
when --evaluation (default out/demo/eval) holds compositional.csv.
"""

from functools import partial
from pathlib import Path

from jobs.cli import config_from_args, parser_for
from model.checkpoint import newest
from model.eval.cross_edges import coreference_for_rows
from model.trainer import load_trained
from pipeline.viz.report import ReportConfig, evaluation_folder, write_report

DEFAULT_RUNS = Path("out/demo/runs")


def cross_edges_from(checkpoint: str | None):
    """The HSG cross-edge function of a trained model (model and pipeline meet only here), or None without one."""
    path = Path(checkpoint) if checkpoint else newest(DEFAULT_RUNS)
    if path is None:
        print(f"note: no checkpoint given and none under {DEFAULT_RUNS}; the report has no HSG pictures "
              "(train one with make demo, make pretrain or make eval, or pass --checkpoint).", flush=True)
        return None
    try:
        model, config = load_trained(path)
    except (RuntimeError, KeyError, TypeError) as error:
        if checkpoint:
            raise
        # The newest run may predate the current model code; the report is still useful without HSG pictures.
        print(f"note: checkpoint {path} does not load into the current model ({type(error).__name__}: "
              f"{str(error)[:200]}); the report has no HSG pictures. Pass --checkpoint.", flush=True)
        return None
    print(f"HSG cross edges from {path} (backbone {config.backbone})", flush=True)
    return partial(coreference_for_rows, model, config=config)


def main(argv=None) -> int:
    config = config_from_args(ReportConfig, parser_for(ReportConfig, __doc__).parse_args(argv))
    page = write_report(config.graphs, config.out, config.num_samples, cross_edges=cross_edges_from(config.checkpoint),
                        evaluation=evaluation_folder(config.evaluation), seed=config.seed)
    print(f"report: {page.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
