"""The compositional benchmark: does aligning structure tell a caption from a hard negative that differs only in it?

Every val clip of the demo has its caption and hard-negative captions that differ only in a relation ("moves left"
-> "moves right"), an attribute binding ("yellow square ... green star" -> "green square ... yellow star") or the
order of events. Each configuration (the backbone alone, backbone + Finsta, Finsta minus one component) is trained
for the same steps on the same train split, once per seed, and scored on the val clips:
    t2v / v2t R@1, R@5    retrieval among the val pairs (model.eval.retrieval.retrieval)
    pairwise accuracy     share of (clip, caption, negative) with score(clip, caption) > score(clip, negative),
                          overall and per negative kind (model.eval.retrieval.score_pairs)
on each retrieval path the model has: `backbone` (pooled, no graphs: the plug-and-play path) and, for Finsta, `graph`
(pooled R-GTrm vs GTrm states) and `structure` (the graph path plus object-by-object, predicate-by-predicate and
event-order agreement through the HSG coreference edges, model/structure.py: Finsta's headline).

The negatives' TSGs come from a parquet file with the columns of schemas.tsg.SCHEMA plus `clip_sample_id` (the val
clip it negates), `negative_index` and `kind`; parsing them is the pipeline's job
(pipeline/demo/benchmark_graphs.py, run by jobs.evaluate), so this module reads only shards, parquet and torch.
"""

import csv
import dataclasses
import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

from model import checkpoint
from model.data import ShardStream, collate, text_graph, video_graph
from model.eval.retrieval import retrieval, score_pairs
from model.finsta import FinstaConfig
from model.trainer import TrainConfig, fit
from schemas import tsg
from schemas.common import STATUS_OK

# name -> the TrainConfig fields (and under "model", the FinstaConfig fields) that differ from the full model
CONFIGURATIONS = {
    "backbone only": {"finsta": False},
    "backbone + Finsta": {},
    "- OSC": {"model": {"use_osc": False}},
    "- PTC": {"model": {"use_ptc": False}},
    "- STGD": {"model": {"use_stgd": False}},
    "- temporal links": {"model": {"use_temporal_links": False}},
    "- modifier nodes": {"use_modifiers": False},
    "- HSG cross edges": {"model": {"use_cross_edges": False}},
    "- object phrases": {"model": {"use_object_phrases": False}},
    "- hard negatives": {"model": {"use_hard_negatives": False}},
}
BASELINE, FULL = "backbone only", "backbone + Finsta"
KINDS = ("relation", "attribute", "order")
METRICS = ("t2v R@1", "t2v R@5", "v2t R@1", "v2t R@5", "pairwise", *(f"pairwise {k}" for k in KINDS))
# The headline path of each model: the structure path is how Finsta scores a (clip, caption) pair from their graphs;
# the backbone alone has only its pooled path. Finsta's pooled graph and plug-and-play paths are reported beside it.
HEADLINE = {True: "structure", False: "backbone"}
NEGATIVE_COLUMNS = ("clip_sample_id", "negative_index", "kind")


def pairwise_accuracy(true_scores: torch.Tensor, negative_scores: torch.Tensor, negative_of: torch.Tensor,
                      kinds: list[str]) -> dict:
    """Percent of negatives scoring below their clip's true caption (a tie counts as wrong), overall and per kind.

    true_scores [N] (clip i with its caption), negative_scores [M], negative_of [M] (the clip of each negative),
    kinds [M] -> {"pairwise": %, "pairwise relation": %, ...}; a kind with no negatives is NaN.
    """
    correct = true_scores[negative_of] > negative_scores
    result = {"pairwise": 100.0 * correct.float().mean().item() if len(kinds) else float("nan")}
    for kind in KINDS:
        mask = torch.tensor([k == kind for k in kinds], dtype=torch.bool)
        result[f"pairwise {kind}"] = 100.0 * correct[mask].float().mean().item() if mask.any() else float("nan")
    return result


def read_negatives(path: str | Path) -> list[dict]:
    """The negatives' TSG rows (ok rows only) from a parquet file of tsg.SCHEMA + NEGATIVE_COLUMNS."""
    table = pq.read_table(path)
    tsg.validate(table)
    missing = [c for c in NEGATIVE_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected the TSG columns plus {NEGATIVE_COLUMNS} "
                         "(pipeline/demo/benchmark_graphs.py writes this file: make eval).")
    rows = table.to_pylist()
    bad = [r["sample_id"] for r in rows if r["status"] != STATUS_OK]
    if bad:
        print(f"negatives: {len(bad)} negative caption(s) could not be parsed and are left out (first: {bad[0]})",
              flush=True)
    return [r for r in rows if r["status"] == STATUS_OK]


@dataclasses.dataclass
class BenchmarkData:
    """Decoded once, shared by every run: train/val (tsg_row, VideoGraph) and the negatives' TSG rows."""
    train: list
    val: list
    negatives: list[dict]

    def pairs(self, split: str, use_modifiers: bool) -> list:
        return [(text_graph(t, use_modifiers), v) for t, v in getattr(self, split)]


def load_data(graphs: str | Path, negatives: str | Path, image_size: int, num_frames: int) -> BenchmarkData:
    def split_rows(split: str) -> list:
        stream = ShardStream(graphs, split, image_size=image_size, num_frames=num_frames)
        return [(t, video_graph(d, image_size, num_frames)) for t, d in stream.rows()]

    data = BenchmarkData(split_rows("train"), split_rows("val"), read_negatives(negatives))
    val_ids = {t["sample_id"] for t, _ in data.val}
    data.negatives = [r for r in data.negatives if r["clip_sample_id"] in val_ids]
    if not data.train or not data.val or not data.negatives:
        raise ValueError(f"compositional benchmark: {len(data.train)} train pairs, {len(data.val)} val pairs and "
                         f"{len(data.negatives)} negatives of val clips in {graphs} and {negatives}; all three must be "
                         "non-empty (build the demo shards and parse test_compositional.json: make eval).")
    return data


def evaluate(model, config: TrainConfig, data: BenchmarkData, device: str = "cpu", batch_size: int = 32) -> dict:
    """{path: {metric: value}} on the val clips and their negatives."""
    val = data.pairs("val", config.use_modifiers)
    clip_of = {t.sample_id: i for i, (t, _) in enumerate(val)}
    negative_of = torch.tensor([clip_of[r["clip_sample_id"]] for r in data.negatives], dtype=torch.long)
    negatives = [(text_graph(r, config.use_modifiers), val[i][1]) for r, i in zip(data.negatives, negative_of.tolist())]
    recalls = retrieval(model, [collate(val[i:i + batch_size]) for i in range(0, len(val), batch_size)], device,
                        ks=(1, 5))
    true_scores = score_pairs(model, val, batch_size, device)
    negative_scores = score_pairs(model, negatives, batch_size, device)
    kinds = [r["kind"] for r in data.negatives]
    results = {}
    for path in true_scores:
        row = {f"{d} {k}": recalls[path][d][k] for d in ("t2v", "v2t") for k in ("R@1", "R@5")}
        row.update(pairwise_accuracy(true_scores[path], negative_scores[path], negative_of, kinds))
        results[path] = row
    return results


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Which configurations, how many seeds, and the short training run every one of them gets: the project's
    training defaults (TrainConfig, FinstaConfig) except max_steps, epochs, lr and image_size."""
    out: str = dataclasses.field(metadata={"help": "folder for the table, CSVs and plot"})
    configurations: tuple[str, ...] = dataclasses.field(
        default=tuple(CONFIGURATIONS), metadata={"help": "configurations to train", "choices": tuple(CONFIGURATIONS)})
    seeds: int = dataclasses.field(default=3, metadata={"help": "training seeds per configuration"})
    keep: str = dataclasses.field(
        default="", metadata={"help": "folder for the full model of the first seed (the report's HSG pictures); "
                                      "'' for none"})
    device: str = dataclasses.field(default="cpu", metadata={"help": "cpu or cuda"})
    backbone: str = dataclasses.field(default=TrainConfig.backbone, metadata={"help": "backbone of every run"})
    max_steps: int = dataclasses.field(default=300, metadata={"help": "training steps of every run"})
    epochs: int = dataclasses.field(default=10**6, metadata={"help": "epoch bound (max_steps bounds the runs)"})
    batch_size: int = dataclasses.field(default=TrainConfig.batch_size, metadata={"help": "pairs per step"})
    lr: float = dataclasses.field(default=3e-4, metadata={"help": "AdamW learning rate"})
    dim: int = dataclasses.field(default=FinstaConfig.dim, metadata={"help": "width of Finsta's encoders and heads"})
    num_layers: int = dataclasses.field(default=FinstaConfig.num_layers, metadata={"help": "GTrm layers"})
    image_size: int = dataclasses.field(default=32, metadata={"help": "keyframe side in pixels"})
    num_frames: int = dataclasses.field(default=TrainConfig.num_frames, metadata={"help": "keyframes per clip"})
    seed: int = dataclasses.field(default=TrainConfig.seed, metadata={"help": "first seed"})

    def __post_init__(self):
        unknown = [c for c in self.configurations if c not in CONFIGURATIONS]
        if unknown:
            raise ValueError(f"Unknown configuration(s) {unknown}; expected names from {list(CONFIGURATIONS)}.")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}.")

    def train_config(self, graphs: str | Path, name: str, seed: int) -> TrainConfig:
        """The TrainConfig of configuration `name` (CONFIGURATIONS) and one seed."""
        changes = dict(CONFIGURATIONS[name])
        model = FinstaConfig(dim=self.dim, num_layers=self.num_layers, **changes.pop("model", {}))
        return TrainConfig(graphs=str(graphs), run_dir=self.out, name="compositional", backbone=self.backbone,
                           max_steps=self.max_steps, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                           model=model, image_size=self.image_size, num_frames=self.num_frames, seed=seed,
                           use_gpu=self.device.startswith("cuda"), **changes)


def run_benchmark(bench: BenchmarkConfig, graphs: str | Path, data: BenchmarkData) -> list[dict]:
    """Train every configuration once per seed (bench.seed, bench.seed + 1, ...), evaluate, write the CSVs, the plot
    and targets.txt (the issue's targets, met or not).

    Returns one row per (configuration, seed, path). With bench.keep, the full model of the first seed is saved to
    that folder (model/checkpoint.py) for the report's HSG pictures.
    """
    out = Path(bench.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in bench.configurations:
        for seed in range(bench.seed, bench.seed + bench.seeds):
            config = bench.train_config(graphs, name, seed)
            started = time.perf_counter()
            model = fit(config, data.pairs("train", config.use_modifiers), bench.device)
            results = evaluate(model, config, data, bench.device)
            for path, metrics in results.items():
                rows.append({"configuration": name, "seed": seed, "path": path, **metrics})
            headline = results[HEADLINE[config.finsta]]
            print(f"[eval] {name:18s} seed {seed}: {HEADLINE[config.finsta]} path t2v R@1 {headline['t2v R@1']:5.1f} "
                  f"v2t R@1 {headline['v2t R@1']:5.1f} pairwise {headline['pairwise']:5.1f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
            if bench.keep and name == FULL and seed == bench.seed:
                checkpoint.save(bench.keep, model, config)
    write_runs(rows, out / "compositional_seeds.csv")
    summary = summarise(rows)
    write_summary(summary, out / "compositional.csv")
    plot(summary, out / "compositional.png")
    (out / "targets.txt").write_text("\n".join(verdict(summary)) + "\n")
    return rows


def benchmark(bench: BenchmarkConfig, graphs: str | Path, negatives: str | Path) -> list[dict]:
    """make eval's model half: load the shards and the negatives' TSGs, run_benchmark, print the table and the
    targets. Returns run_benchmark's rows."""
    print("training " + json.dumps({k: v for k, v in dataclasses.asdict(bench).items()
                                    if k in ("backbone", "max_steps", "batch_size", "lr", "dim", "num_layers",
                                             "image_size", "num_frames", "seed")})
          + f", {bench.seeds} seed(s), {len(bench.configurations)} configuration(s)", flush=True)
    data = load_data(graphs, negatives, bench.image_size, bench.num_frames)
    print(f"== {len(data.train)} train pairs, {len(data.val)} val clips, {len(data.negatives)} hard negatives",
          flush=True)
    rows = run_benchmark(bench, graphs, data)
    summary = summarise(rows)
    print("\nCompositional split (val clips vs their hard negatives), mean ± std over seeds; headline path per model:"
          "\n  structure = Finsta's part-by-part scoring of TSG vs DSG through the HSG cross edges,"
          "\n  graph = pooled TSG vs DSG, backbone = pooled, no graphs (Finsta's plug-and-play)")
    print(format_table(summary))
    print("\nTargets:")
    for line in verdict(summary):
        print("  " + line)
    out = Path(bench.out)
    print(f"\nwritten: {out / 'compositional.csv'}, {out / 'compositional_seeds.csv'}, {out / 'compositional.png'}, "
          f"{out / 'targets.txt'}"
          + (f"; model kept in {bench.keep}" if bench.keep and FULL in bench.configurations else ""))
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds per (configuration, path), in configuration order, headline path first."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["configuration"], row["path"]), []).append(row)
    order = list(CONFIGURATIONS)
    keys = sorted(groups, key=lambda k: (order.index(k[0]), k[1] != HEADLINE[k[0] != BASELINE]))
    summary = []
    for name, path in keys:
        values = torch.tensor([[r[m] for m in METRICS] for r in groups[(name, path)]], dtype=torch.float64)
        std = values.std(0, unbiased=True) if len(values) > 1 else torch.zeros(len(METRICS), dtype=torch.float64)
        summary.append({"configuration": name, "path": path, "headline": path == HEADLINE[name != BASELINE],
                        "seeds": len(values), "mean": dict(zip(METRICS, values.mean(0).tolist())),
                        "std": dict(zip(METRICS, std.tolist()))})
    return summary


def write_runs(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["configuration", "seed", "path", *METRICS])
        writer.writeheader()
        writer.writerows({k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)


def write_summary(summary: list[dict], path: Path) -> None:
    """compositional.csv: one row per (configuration, path), each metric as 'mean ± std' over the seeds."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["configuration", "path", "seeds", *METRICS])
        for s in summary:
            path_name = s["path"] + (" (headline)" if s["headline"] else "")
            writer.writerow([s["configuration"], path_name, s["seeds"],
                             *(f"{s['mean'][m]:.1f} ± {s['std'][m]:.1f}" for m in METRICS)])


def format_table(summary: list[dict]) -> str:
    header = f"{'configuration':18s} {'path':19s} " + " ".join(f"{m:>13s}" for m in METRICS)
    lines = [header, "-" * len(header)]
    for s in summary:
        path_name = s["path"] + (" (headline)" if s["headline"] else "")
        lines.append(f"{s['configuration']:18s} {path_name:19s} "
                     + " ".join(f"{s['mean'][m]:6.1f} ± {s['std'][m]:4.1f}" for m in METRICS))
    return "\n".join(lines)


def verdict(summary: list[dict], metric: str = "t2v R@1", margin: float = 10.0) -> list[str]:
    """The issue's targets on the headline paths: Finsta beats the backbone alone by >= margin points of `metric`,
    and every ablation scores below the full model (on `metric` and on pairwise accuracy)."""
    headline = {s["configuration"]: s for s in summary if s["headline"]}
    if BASELINE not in headline or FULL not in headline:
        return ["targets not checked: the run lacks the backbone-only or the full Finsta configuration"]
    full, base = headline[FULL]["mean"], headline[BASELINE]["mean"]
    gain = full[metric] - base[metric]
    lines = [(f"Finsta vs backbone alone, {metric}: {full[metric]:.1f} vs {base[metric]:.1f} = {gain:+.1f} points "
             f"(target >= +{margin:.0f}): {'MET' if gain >= margin else 'NOT MET'}")]
    for name, s in headline.items():
        if name in (BASELINE, FULL):
            continue
        for m in (metric, "pairwise"):
            drop = round(full[m] - s["mean"][m], 1)
            lines.append(f"{name:18s} {m:9s} {s['mean'][m]:5.1f} ± {s['std'][m]:4.1f} vs full {full[m]:5.1f} ± "
                         f"{headline[FULL]['std'][m]:4.1f}: "
                         + (f"lowers it by {drop:.1f}" if drop > 0 else f"does NOT lower it ({0.0 - drop:+.1f})"))
    lines.append("(a difference smaller than the std over seeds is within seed noise)")
    return lines


def plot(summary: list[dict], path: Path) -> Path:
    """Bar plot of the headline paths: R@1 both ways and pairwise accuracy per negative kind, mean ± std."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    headline = [s for s in summary if s["headline"]]
    names = [s["configuration"] for s in headline]
    panels = [("Retrieval R@1 (%)", ["t2v R@1", "v2t R@1"]),
              ("Pairwise accuracy vs hard negative (%)", ["pairwise", *(f"pairwise {k}" for k in KINDS)])]
    figure, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    for axis, (title, metrics) in zip(axes, panels):
        width = 0.8 / len(metrics)
        for j, m in enumerate(metrics):
            xs = [i + (j - (len(metrics) - 1) / 2) * width for i in range(len(names))]
            axis.bar(xs, [s["mean"][m] for s in headline], width, yerr=[s["std"][m] for s in headline], capsize=3,
                     label=m)
        axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
        axis.set_title(title)
        axis.legend(fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    axes[1].axhline(50, color="#888", lw=1, ls="--")
    seeds = max(s["seeds"] for s in headline)
    figure.suptitle(f"Compositional split, headline path per model, mean ± std over {seeds} seed(s)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
