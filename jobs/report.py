"""A static HTML report of a graph-shard set (make report GRAPHS=... OUT=...):

  python jobs/report.py --graphs out/demo/graphs --out out/demo/report [--num-samples 6] [--checkpoint PATH]
      [--evaluation out/demo/eval]

Status counts, top error causes, and for a sample of rows the keyframes (boxes, track ids, relation arrows), the
TSG, and the HSG cross edges a trained model draws between them (--checkpoint: a state.pt, a checkpoint folder or a
run folder; default: the newest checkpoint under out/demo/runs). The evaluation table and plot of make eval are shown
when --evaluation (default out/demo/eval) holds compositional.csv.
"""

import argparse
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.cli import HelpFormatter
from model.compositional import coreference_for_rows, load_trained
from pipeline.report import write_report

DEFAULT_RUNS = Path("out/demo/runs")
DEFAULT_EVALUATION = Path("out/demo/eval")


def newest_checkpoint(runs: Path) -> Path | None:
    found = sorted(runs.rglob("state.pt"), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    return found[-1] if found else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--graphs", required=True, help="shard folder (manifest.json, tsg/, dsg/)")
    parser.add_argument("--out", required=True, help="folder for index.html and images/")
    parser.add_argument("--num-samples", type=int, default=6, help="rows drawn")
    parser.add_argument("--checkpoint", default=None,
                        help=f"trained model for the HSG pictures (default: newest state.pt under {DEFAULT_RUNS})")
    parser.add_argument("--evaluation", default=None,
                        help=f"make eval's folder (default: {DEFAULT_EVALUATION} when it has compositional.csv)")
    parser.add_argument("--seed", type=int, default=0, help="which rows are sampled")
    args = parser.parse_args(argv)

    cross_edges = None
    checkpoint = Path(args.checkpoint) if args.checkpoint else newest_checkpoint(DEFAULT_RUNS)
    if checkpoint is None:
        print(f"note: no checkpoint given and none under {DEFAULT_RUNS}; the report has no HSG pictures "
              "(train one with make demo, make pretrain or make eval, or pass --checkpoint).", flush=True)
    else:
        try:
            model, config = load_trained(checkpoint)
        except (RuntimeError, KeyError, TypeError) as error:
            if args.checkpoint:
                raise
            # The newest run may predate the current model code; the report is still useful without HSG pictures.
            print(f"note: checkpoint {checkpoint} does not load into the current model ({type(error).__name__}: "
                  f"{str(error)[:200]}); the report has no HSG pictures. Pass --checkpoint.", flush=True)
        else:
            print(f"HSG cross edges from {checkpoint} (backbone {config.backbone})", flush=True)
            cross_edges = partial(coreference_for_rows, model, config=config)

    evaluation = Path(args.evaluation) if args.evaluation else DEFAULT_EVALUATION
    if not (evaluation / "compositional.csv").is_file():
        if args.evaluation:
            raise FileNotFoundError(f"--evaluation {evaluation} has no compositional.csv; run make eval first.")
        print(f"note: no evaluation table ({evaluation / 'compositional.csv'} is missing; make eval writes it)",
              flush=True)
        evaluation = None
    page = write_report(args.graphs, args.out, args.num_samples, cross_edges=cross_edges, evaluation=evaluation,
                        seed=args.seed)
    print(f"report: {page.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
