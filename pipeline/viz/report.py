"""A static HTML report of a graph-shard set: what was built, what it holds, what failed and why, how a training run
went, and pictures of sample graphs.

  write_report(graphs, out)  ->  out/index.html + out/images/*.png  (opens in a browser, no server)
Dataset statistics: class and predicate histograms, objects per keyframe, track lengths, TSG sizes, error causes by
split. With a training run (`run`, read_run: metrics.jsonl and retrieval.json of run_dir/name) its loss curves and
R@K; with `cross_edges` (a function of a TSG row and a DSG row, e.g. from a trained model's HSG) the cross-modal
coreference edges of each sampled pair. Without either, the page says it has no model panels and why. An evaluation
folder (compositional.csv, targets.txt and its PNGs) is shown when given.
"""

import csv
import html
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.viz.draw_dsg import draw_dsg
from pipeline.viz.draw_hsg import draw_hsg
from pipeline.viz.draw_tsg import draw_tsg
from pipeline.viz.statistics import COLUMNS, dataset_statistics, draw_curves, draw_statistics
from schemas import manifest, read_graphs

DEFAULT_EVALUATION = Path("out/demo/eval")
# What a training run folder holds (model/trainer.py writes them).
RUN_METRICS, RUN_RETRIEVAL = "metrics.jsonl", "retrieval.json"


@dataclass(frozen=True)
class ReportConfig:
    graphs: str = field(metadata={"help": "shard folder (manifest.json, tsg/, dsg/)"})
    out: str = field(metadata={"help": "folder for index.html and images/"})
    num_samples: int = field(default=6, metadata={"help": "rows drawn"})
    run: str | None = field(default=None, metadata={
        "help": "training run folder (run_dir/name: metrics.jsonl, retrieval.json, checkpoints): its curves and R@K, "
                "and its newest checkpoint for the HSG pictures unless --checkpoint is given"})
    checkpoint: str | None = field(default=None, metadata={
        "help": "trained model for the HSG pictures: a state.pt or a checkpoint folder. Without --run and "
                "--checkpoint the report has no model panels (no checkpoint is guessed)"})
    evaluation: str | None = field(default=None, metadata={
        "help": f"make eval's folder (default: {DEFAULT_EVALUATION} when it has compositional.csv)"})
    seed: int = field(default=0, metadata={"help": "which rows are sampled"})


def read_run(folder: str | Path) -> dict:
    """A training run folder's curves and R@K: {"folder", "metrics": [metrics.jsonl lines], "retrieval": the
    retrieval.json dict or None while the run has not finished}."""
    folder = Path(folder)
    path = folder / RUN_METRICS
    if not path.is_file():
        raise FileNotFoundError(f"run folder {folder} has no {RUN_METRICS}; expected a training run folder "
                                "(run_dir/name, e.g. out/demo/runs/demo-tiny after make demo).")
    metrics = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            metrics.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not a JSON object ({error.msg}); each line is one step's "
                             "metrics as model/trainer.py writes them.") from error
    retrieval = folder / RUN_RETRIEVAL
    return {"folder": str(folder), "metrics": metrics,
            "retrieval": json.loads(retrieval.read_text()) if retrieval.is_file() else None}


def evaluation_folder(evaluation: str | None) -> Path | None:
    """The evaluation folder to show: the one given (it must hold compositional.csv), else the default when it
    holds one, else None."""
    folder = Path(evaluation) if evaluation else DEFAULT_EVALUATION
    if (folder / "compositional.csv").is_file():
        return folder
    if evaluation:
        raise FileNotFoundError(f"--evaluation {folder} has no compositional.csv; run make eval first.")
    print(f"note: no evaluation table ({folder / 'compositional.csv'} is missing; make eval writes it)", flush=True)
    return None


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; } th, td { border: 1px solid #ccc; padding: 4px 10px; }
th { background: #f2f2f2; } td.num { text-align: right; } img { max-width: 100%; border: 1px solid #ddd; }
.sample { border-top: 2px solid #888; padding-top: 0.8em; margin-top: 1.5em; } .caption { font-size: 1.15em; }
.pair { display: flex; gap: 1em; align-items: flex-start; } .pair > div { flex: 1; } code { background: #f4f4f4; }
"""


def picture_html(name: str, alt: str) -> str:
    """An image of images/ that opens at full size when clicked (the page shrinks wide ones, such as the keyframe
    grids, to its width)."""
    src = f"images/{html.escape(name)}"
    return f"<a href='{src}'><img src='{src}' alt='{html.escape(alt)}' title='click for full size'></a>"


def table_html(header: list[str], rows: list[list]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{v}</td>" if isinstance(v, (int, float)) else f"<td>{html.escape(str(v))}</td>"
        for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def pick_samples(graphs: Path, document: dict, count: int, seed: int) -> list[tuple[dict, dict]]:
    """`count` pairs whose TSG and DSG rows are both ok, drawn at random (seeded) from all shards."""
    candidates = []
    for shard in document["shards"]:
        statuses = zip(pq.read_table(graphs / shard["tsg_path"], columns=["status"])["status"].to_pylist(),
                       pq.read_table(graphs / shard["dsg_path"], columns=["status"])["status"].to_pylist())
        candidates += [(shard, i) for i, (t, d) in enumerate(statuses) if t == d == "ok"]
    chosen = sorted(random.Random(seed).sample(candidates, min(count, len(candidates))),
                    key=lambda c: (c[0]["shard"], c[1]))
    return [(pq.read_table(graphs / shard["tsg_path"]).slice(i, 1).to_pylist()[0],
             pq.read_table(graphs / shard["dsg_path"]).slice(i, 1).to_pylist()[0]) for shard, i in chosen]


def evaluation_html(folder: Path, images: Path) -> str:
    table = folder / "compositional.csv"
    if not table.is_file():
        return ""
    with table.open(newline="") as f:
        rows = list(csv.reader(f))
    parts = ["<h2>Compositional evaluation</h2>", table_html(rows[0], rows[1:])]
    if (folder / "targets.txt").is_file():
        parts.append(f"<pre>{html.escape((folder / 'targets.txt').read_text())}</pre>")
    for picture in sorted(folder.glob("*.png")):
        target = images / f"eval_{picture.name}"
        target.write_bytes(picture.read_bytes())
        parts.append(f"<p>{picture_html(target.name, picture.stem)}</p>")
    return "\n".join(parts)


def mean(counts: Counter) -> float:
    """The mean of a histogram {value: how often}."""
    total = sum(counts.values())
    return sum(k * n for k, n in counts.items()) / total if total else 0.0


def statistics_html(graphs: Path, images: Path) -> str:
    """Rows by status, the dataset's histograms and its error causes by split."""
    table = read_graphs(graphs, columns=COLUMNS)
    status = Counter()
    for row in table.select(["split", "tsg_status", "dsg_status"]).to_pylist():
        for name in ("tsg", "dsg"):
            status[(name.upper(), row["split"], row[f"{name}_status"])] += 1
    counts = [[name, split, status[(name, split, "ok")], status[(name, split, "error")]]
              for name, split in sorted({(n, s) for n, s, _ in status})]
    stats = dataset_statistics(table)
    draw_statistics(stats, images / "statistics.png")
    summary = [["caption segments", table.num_rows],
               ["detections / tracks", f"{sum(stats['classes'].values())} / {sum(stats['track_lengths'].values())}"],
               ["classes", len(stats["classes"])], ["DSG predicates", len(stats["dsg_predicates"])],
               ["objects per keyframe (mean)", round(mean(stats["objects_per_keyframe"]), 2)],
               ["keyframes per track (mean)", round(mean(stats["track_lengths"]), 2)],
               ["nodes per TSG (mean)", round(mean(stats["tsg_nodes"]), 2)]]
    parts = ["<h2>Rows by status</h2>", table_html(["table", "split", "ok", "error"], counts),
             "<h2>Dataset statistics</h2><p>Over the rows with status ok.</p>",
             table_html(["quantity", "value"], summary),
             f"<p>{picture_html('statistics.png', 'dataset histograms')}</p>", "<h2>Error causes by split</h2>"]
    if stats["errors"]:
        rows = [[name, split, cause, n, stats["examples"][(name, split, cause)]]
                for (name, split, cause), n in sorted(stats["errors"].items(), key=lambda item: (item[0][1], -item[1]))]
        parts.append(table_html(["table", "split", "cause", "rows", "example"], rows))
    else:
        parts.append("<p>No error rows.</p>")
    return "\n".join(parts)


def run_html(run: dict, images: Path) -> str:
    """A training run's loss curves and its R@K on the eval split."""
    # Absolute: the page is read from its own folder, the commands are pasted into a shell anywhere.
    folder = html.escape(str(Path(run["folder"]).resolve()))
    parts = [f"<h2>Training run</h2><p><code>{folder}</code>: {len(run['metrics'])} steps logged "
             f"(metrics.jsonl; TensorBoard: <code>tensorboard --logdir {folder}</code>)</p>"]
    if run["metrics"]:
        draw_curves(run["metrics"], images / "curves.png", f"training curves: {Path(run['folder']).name}")
        parts.append(f"<p>{picture_html('curves.png', 'training curves')}</p>")
    if run["retrieval"] is None:
        parts.append("<p>No retrieval.json yet: the run writes R@K when it finishes.</p>")
    else:
        recall = run["retrieval"]
        paths = {k: v for k, v in recall.items() if isinstance(v, dict)}
        header = sorted({f"{direction} {k}" for directions in paths.values() for direction, ks in directions.items()
                         for k in ks}, key=lambda h: (h.split()[0], int(h.split("@")[1])))
        rows = [[name] + [round(directions[h.split()[0]][h.split()[1]], 1) for h in header]
                for name, directions in paths.items()]
        parts += [f"<h3>Retrieval on {recall.get('num_pairs', '?')} eval pairs (R@K, %)</h3>",
                  table_html(["path"] + header, rows)]
    return "\n".join(parts)


def write_report(graphs: str | Path, out: str | Path, num_samples: int = 6, cross_edges=None,
                 evaluation: str | Path | None = None, seed: int = 0, run: dict | None = None,
                 model_source: str | None = None) -> Path:
    """Write out/index.html (+ out/images/) for the shards in `graphs`; returns the page's path.

    run: read_run's dict, for the curves and R@K; cross_edges: the HSG cross-edge function, for the HSG panels;
    model_source: one line saying where cross_edges comes from (shown on the page).
    """
    graphs, out = Path(graphs), Path(out)
    document = manifest.read(graphs)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>Graph shards: {html.escape(document['dataset'])}</h1>",
             f"<p>{html.escape(str(graphs.resolve()))} &middot; built {html.escape(document['created'])} &middot; "
             f"{len(document['shards'])} shards &middot; detector <code>{html.escape(document['detector']['weights'])}"
             f"</code> (sha256 {document['detector']['sha256'][:12]}) &middot; spaCy "
             f"<code>{html.escape(document['text_parser']['spacy_model'])}</code> "
             f"{html.escape(document['text_parser']['spacy_model_version'])}</p>",
             statistics_html(graphs, images)]
    if run is not None:
        parts.append(run_html(run, images))
    if run is None and cross_edges is None:
        parts.append("<h2>Model</h2><p class='note'>No model panels (training curves, R@K, HSG edges): no training "
                     "run or checkpoint was given. Pass <code>--run RUN_FOLDER</code> (e.g. "
                     "<code>out/demo/runs/demo-tiny</code>) or <code>--checkpoint PATH</code>.</p>")
    elif model_source:
        parts.append(f"<p>HSG cross edges: {html.escape(model_source)}</p>")

    parts.append("<h2>Sample graphs</h2><p>Click a picture to see it at full size.</p>")
    for k, (tsg_row, dsg_row) in enumerate(pick_samples(graphs, document, num_samples, seed)):
        stem = f"sample{k:02d}"
        draw_dsg(dsg_row, images / f"{stem}_dsg.png")
        draw_tsg(tsg_row, images / f"{stem}_tsg.png")
        hsg = ""
        if cross_edges is not None:
            draw_hsg(tsg_row, dsg_row, cross_edges(tsg_row, dsg_row), images / f"{stem}_hsg.png")
            hsg = f"<div>{picture_html(f'{stem}_hsg.png', 'HSG cross edges')}</div>"
        parts.append(
            f"<div class='sample'><p class='caption'><b>{html.escape(tsg_row['sample_id'])}</b> "
            f"[{dsg_row['start']:.1f}, {dsg_row['end']:.1f}] s: &ldquo;{html.escape(tsg_row['caption'])}&rdquo;</p>"
            f"<p>{picture_html(f'{stem}_dsg.png', 'DSG keyframes')}</p>"
            f"<div class='pair'><div>{picture_html(f'{stem}_tsg.png', 'TSG')}</div>{hsg}</div></div>")
    if evaluation is not None:
        parts.append(evaluation_html(Path(evaluation), images))

    page = out / "index.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Finsta graphs: "
                    f"{html.escape(document['dataset'])}</title><style>{STYLE}</style></head><body>"
                    + "\n".join(parts) + "</body></html>\n")
    return page
