"""What a shard set holds, counted (classes, predicates, objects per keyframe, track lengths, TSG sizes, error causes
by split), and the pictures of those counts and of a training run's curves."""

from collections import Counter
from pathlib import Path

import pyarrow as pa

from schemas.common import STATUS_ERROR, STATUS_OK, error_cause

# read_graphs columns the statistics need: everything but the keyframes' JPEG bytes.
COLUMNS = ["split", "nodes", "tsg_status", "tsg_error_message", "frame_times", "objects", "relations", "dsg_status",
           "dsg_error_message"]
# metrics.jsonl keys that are bookkeeping, not curves.
NOT_CURVES = ("step", "epoch", "batch_size", "final")


def dataset_statistics(graphs: pa.Table) -> dict[str, Counter]:
    """Counters over the joined rows of schemas.read_graphs (at least COLUMNS); ok rows only, except `errors`.

    classes, track_classes      detections / tracks per class_name
    dsg_predicates              DSG relations per predicate
    tsg_relations               TSG relation nodes per lemma
    objects_per_keyframe        keyframes per number of objects detected in them
    track_lengths               tracks per number of keyframes they appear in
    tsg_nodes                   TSGs per number of nodes
    errors                      error rows per (table, split, cause); `examples` one message per such key
    """
    stats = {name: Counter() for name in ("classes", "track_classes", "dsg_predicates", "tsg_relations",
                                          "objects_per_keyframe", "track_lengths", "tsg_nodes", "errors")}
    examples = {}
    for row in graphs.select(COLUMNS).to_pylist():
        for table in ("tsg", "dsg"):
            if row[f"{table}_status"] == STATUS_ERROR:
                key = (table.upper(), row["split"], error_cause(row[f"{table}_error_message"]))
                stats["errors"][key] += 1
                examples.setdefault(key, row[f"{table}_error_message"])
        if row["tsg_status"] == STATUS_OK:
            nodes = row["nodes"] or []
            stats["tsg_nodes"][len(nodes)] += 1
            stats["tsg_relations"].update(n["lemma"] for n in nodes if n["kind"] == "relation")
        if row["dsg_status"] == STATUS_OK:
            objects = row["objects"] or []
            stats["classes"].update(o["class_name"] for o in objects)
            per_frame = Counter(o["frame"] for o in objects)
            stats["objects_per_keyframe"].update(per_frame[f] for f in range(len(row["frame_times"] or [])))
            tracks = Counter(o["track_id"] for o in objects)
            stats["track_lengths"].update(tracks.values())
            names = {o["track_id"]: o["class_name"] for o in objects}
            stats["track_classes"].update(names[t] for t in tracks)
            stats["dsg_predicates"].update(r["predicate"] for r in row["relations"] or [])
    stats["examples"] = examples
    return stats


def bars(axes, counts: Counter, title: str, top: int | None = None, numeric: bool = False) -> None:
    """A bar chart of `counts` on `axes`: by value for a numeric histogram, else the `top` most common on top."""
    if not counts:
        axes.text(0.5, 0.5, "none", ha="center", va="center", transform=axes.transAxes)
    elif numeric:
        keys = range(min(counts), max(counts) + 1)
        axes.bar(list(keys), [counts[k] for k in keys], color="#457b9d")
    else:
        items = counts.most_common(top)[::-1]
        axes.barh([str(k) for k, _ in items], [v for _, v in items], color="#e76f51")
        axes.tick_params(axis="y", labelsize=8)
    axes.set_title(title, fontsize=10)


def draw_statistics(stats: dict, path: Path) -> Path:
    """The dataset's histograms in one PNG (2 × 3 panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, grid = plt.subplots(2, 3, figsize=(15, 8.5))
    bars(grid[0, 0], stats["classes"], "detections per class (DSG)", top=20)
    bars(grid[0, 1], stats["dsg_predicates"], "relations per predicate (DSG)", top=20)
    bars(grid[0, 2], stats["tsg_relations"], "relation words, top 20 (TSG)", top=20)
    bars(grid[1, 0], stats["objects_per_keyframe"], "keyframes by objects detected", numeric=True)
    bars(grid[1, 1], stats["track_lengths"], "tracks by keyframes they span", numeric=True)
    bars(grid[1, 2], stats["tsg_nodes"], "TSGs by number of nodes", numeric=True)
    for axes in grid[1]:
        axes.set_ylabel("count")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def running_mean(values: list, window: int) -> list:
    """The mean of each value and the `window - 1` before it, missing values (None) left out."""
    out = []
    for i in range(len(values)):
        recent = [v for v in values[max(0, i - window + 1):i + 1] if v is not None]
        out.append(sum(recent) / len(recent) if recent else None)
    return out


def draw_curves(metrics: list[dict], path: Path, title: str, window: int = 10) -> Path:
    """One small panel per metrics.jsonl quantity (each loss term, data wait, step time) against the step: each step
    light, the running mean of the last `window` logged steps dark (an epoch's short last batch has lower
    contrastive losses, which makes the raw curve saw-toothed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in metrics[0] if k not in NOT_CURVES]
    columns = 4
    rows = -(-len(names) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(15, 2.6 * rows), squeeze=False)
    steps = [m["step"] for m in metrics]
    for axes, name in zip(grid.flat, names):
        values = [m.get(name) for m in metrics]
        axes.plot(steps, values, color="#a8c5d6", lw=0.8)
        axes.plot(steps, running_mean(values, window), color="#264653", lw=1.6)
        axes.set_title(name, fontsize=10)
        axes.tick_params(labelsize=8)
    for axes in list(grid.flat)[len(names):]:
        axes.axis("off")
    for axes in grid[-1]:
        axes.set_xlabel("step", fontsize=9)
    figure.suptitle(f"{title} (light: each step; dark: mean of the last {window} steps)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
