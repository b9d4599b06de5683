"""A static HTML report of a graph-shard set: what was built, what failed and why, and pictures of sample graphs.

  write_report(graphs, out)  ->  out/index.html + out/images/*.png  (opens in a browser, no server)
For each sampled pair it draws the DSG keyframes (boxes, tracks, relations), the TSG, and, when the caller passes
`cross_edges` (a function of a TSG row and a DSG row, e.g. from a trained model's HSG), the cross-modal coreference
edges between the caption's objects and the video's tracks. An evaluation folder (compositional.csv, targets.txt and
its PNGs) is shown when given.
"""

import csv
import html
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.viz.draw_dsg import draw_dsg
from pipeline.viz.draw_hsg import draw_hsg
from pipeline.viz.draw_tsg import draw_tsg
from schemas.common import error_cause
from schemas import manifest

DEFAULT_EVALUATION = Path("out/demo/eval")


@dataclass(frozen=True)
class ReportConfig:
    graphs: str = field(metadata={"help": "shard folder (manifest.json, tsg/, dsg/)"})
    out: str = field(metadata={"help": "folder for index.html and images/"})
    num_samples: int = field(default=6, metadata={"help": "rows drawn"})
    checkpoint: str | None = field(default=None, metadata={
        "help": "trained model for the HSG pictures: a state.pt, a checkpoint or run folder (default: the newest "
                "under out/demo/runs)"})
    evaluation: str | None = field(default=None, metadata={
        "help": f"make eval's folder (default: {DEFAULT_EVALUATION} when it has compositional.csv)"})
    seed: int = field(default=0, metadata={"help": "which rows are sampled"})


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


def table_html(header: list[str], rows: list[list]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{v}</td>" if isinstance(v, (int, float)) else f"<td>{html.escape(str(v))}</td>"
        for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def read_columns(graphs: Path, document: dict, table: str, columns: list[str]) -> pa.Table:
    parts = [pq.read_table(graphs / shard[f"{table}_path"], columns=columns) for shard in document["shards"]]
    return pa.concat_tables(parts) if parts else pa.table({c: [] for c in columns})


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
        parts.append(f"<p><img src='images/{target.name}' alt='{html.escape(picture.stem)}'></p>")
    return "\n".join(parts)


def write_report(graphs: str | Path, out: str | Path, num_samples: int = 6, cross_edges=None,
                 evaluation: str | Path | None = None, seed: int = 0) -> Path:
    """Write out/index.html (+ out/images/) for the shards in `graphs`; returns the page's path."""
    graphs, out = Path(graphs), Path(out)
    document = manifest.read(graphs)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    parts = [f"<h1>Graph shards: {html.escape(document['dataset'])}</h1>",
             f"<p>{html.escape(str(graphs.resolve()))} &middot; built {html.escape(document['created'])} &middot; "
             f"{len(document['shards'])} shards &middot; detector <code>{html.escape(document['detector']['weights'])}"
             f"</code> (sha256 {document['detector']['sha256'][:12]}) &middot; spaCy "
             f"<code>{html.escape(document['text_parser']['spacy_model'])}</code> "
             f"{html.escape(document['text_parser']['spacy_model_version'])}</p>"]

    counts = []
    for table in ("tsg", "dsg"):
        rows = read_columns(graphs, document, table, ["split", "status"]).to_pylist()
        by_split = Counter((r["split"], r["status"]) for r in rows)
        for split in sorted({s for s, _ in by_split}):
            counts.append([table.upper(), split, by_split[(split, "ok")], by_split[(split, "error")]])
    parts += ["<h2>Rows by status</h2>", table_html(["table", "split", "ok", "error"], counts)]

    causes = Counter()
    examples = {}
    for table in ("tsg", "dsg"):
        for row in read_columns(graphs, document, table, ["status", "error_message"]).to_pylist():
            if row["status"] == "error":
                cause = f"{table.upper()}: {error_cause(row['error_message'])}"
                causes[cause] += 1
                examples.setdefault(cause, row["error_message"])
    if causes:
        parts += ["<h2>Top error causes</h2>",
                  table_html(["cause", "rows", "example"], [[c, n, examples[c]] for c, n in causes.most_common(10)])]
    else:
        parts.append("<h2>Top error causes</h2><p>No error rows.</p>")

    parts.append("<h2>Sample graphs</h2>")
    for k, (tsg_row, dsg_row) in enumerate(pick_samples(graphs, document, num_samples, seed)):
        stem = f"sample{k:02d}"
        draw_dsg(dsg_row, images / f"{stem}_dsg.png")
        draw_tsg(tsg_row, images / f"{stem}_tsg.png")
        hsg = ""
        if cross_edges is not None:
            draw_hsg(tsg_row, dsg_row, cross_edges(tsg_row, dsg_row), images / f"{stem}_hsg.png")
            hsg = f"<div><img src='images/{stem}_hsg.png' alt='HSG cross edges'></div>"
        parts.append(
            f"<div class='sample'><p class='caption'><b>{html.escape(tsg_row['sample_id'])}</b> "
            f"[{dsg_row['start']:.1f}, {dsg_row['end']:.1f}] s: &ldquo;{html.escape(tsg_row['caption'])}&rdquo;</p>"
            f"<p><img src='images/{stem}_dsg.png' alt='DSG keyframes'></p>"
            f"<div class='pair'><div><img src='images/{stem}_tsg.png' alt='TSG'></div>{hsg}</div></div>")
    if evaluation is not None:
        parts.append(evaluation_html(Path(evaluation), images))

    page = out / "index.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Finsta graphs: "
                    f"{html.escape(document['dataset'])}</title><style>{STYLE}</style></head><body>"
                    + "\n".join(parts) + "</body></html>\n")
    return page
