"""Draw the cross-modal coreference edges of an HSG as a grid: one row per caption object, one column per video
track, each edge's score in its own cell, so every object's edges can be read however many there are."""

import math
from pathlib import Path


def coreference_grid(tsg_row: dict, dsg_row: dict, edges: list[dict]) -> tuple[list[str], list[str], list[list]]:
    """(row labels, column labels, scores): rows are the TSG's object nodes ("red circle"), columns the DSG's
    tracks ("track 3: red circle"), scores[r][c] the edge's score or None where the HSG has no edge.

    edges: [{"text_node": index into tsg_row["nodes"], "track_id": int, "score": float}]
    """
    nodes = tsg_row["nodes"]
    attributes = {}
    for edge in tsg_row["edges"]:
        if edge["kind"] == "attribute":
            attributes.setdefault(edge["source"], []).append(nodes[edge["target"]]["text"])
    text_nodes = [i for i, node in enumerate(nodes) if node["kind"] == "object"]
    tracks = {}
    for obj in dsg_row["objects"]:
        tracks.setdefault(obj["track_id"], obj)
    track_ids = sorted(tracks)
    scores = [[None] * len(track_ids) for _ in text_nodes]
    for edge in edges:
        if edge["text_node"] in text_nodes and edge["track_id"] in tracks:
            scores[text_nodes.index(edge["text_node"])][track_ids.index(edge["track_id"])] = edge["score"]
    rows = [" ".join(attributes.get(i, []) + [nodes[i]["text"]]) for i in text_nodes]
    columns = [f"track {t}: {' '.join((tracks[t]['attributes'] or []) + [tracks[t]['class_name']])}"
               for t in track_ids]
    return rows, columns, scores


def draw_hsg(tsg_row: dict, dsg_row: dict, edges: list[dict], path: Path) -> Path:
    """Write the coreference grid of one (caption, clip) pair to `path` (PNG): a cell per (caption object, track),
    coloured and labelled with the edge's cosine score, blank where there is no edge."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns, scores = coreference_grid(tsg_row, dsg_row, edges)
    values = [[math.nan if s is None else s for s in row] for row in scores] or [[math.nan]]
    figure, axes = plt.subplots(figsize=(max(4.0, 1.1 * len(columns) + 2.2), 0.55 * max(len(rows), 1) + 2.0))
    image = axes.imshow(values, cmap="viridis", vmin=-1.0, vmax=1.0, aspect="auto")
    for r, row in enumerate(scores):
        for c, score in enumerate(row):
            if score is not None:
                axes.text(c, r, f"{score:.2f}", ha="center", va="center", fontsize=10,
                          color="white" if score < 0.3 else "black")
    axes.set_xticks(range(len(columns)), columns, rotation=35, ha="right", fontsize=9)
    axes.set_yticks(range(len(rows)), rows, fontsize=10)
    axes.set_xlabel("video tracks (DSG)")
    axes.set_ylabel("caption objects (TSG)")
    count = sum(s is not None for row in scores for s in row)
    axes.set_title(f"HSG coreference edges: {count} edge{'' if count == 1 else 's'}\n"
                   "cell: the edge's cosine score; blank: no edge", fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.04, pad=0.02)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
