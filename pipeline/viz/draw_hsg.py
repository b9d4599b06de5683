"""Draw the cross-modal coreference edges of an HSG: caption objects (left) joined to video tracks (right)."""

from pathlib import Path


def draw_hsg(tsg_row: dict, dsg_row: dict, edges: list[dict], path: Path) -> Path:
    """Caption objects (left) joined to video tracks (right) by coreference edges labelled with their score.

    edges: [{"text_node": index into tsg_row["nodes"], "track_id": int, "score": float}]
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    height = max(len(text_nodes), len(track_ids), 1)
    figure, axes = plt.subplots(figsize=(8, 0.8 * height + 1.2))
    text_y = {i: height - 1 - k * (height - 1) / max(len(text_nodes) - 1, 1) for k, i in enumerate(text_nodes)}
    track_y = {t: height - 1 - k * (height - 1) / max(len(track_ids) - 1, 1) for k, t in enumerate(track_ids)}
    for i, y in text_y.items():
        label = " ".join(attributes.get(i, []) + [nodes[i]["text"]])
        axes.text(0, y, label, ha="right", va="center", fontsize=11, bbox={"fc": "#8ecae6", "ec": "#333"})
    for t, y in track_y.items():
        obj = tracks[t]
        label = f"track {t}: {' '.join((obj['attributes'] or []) + [obj['class_name']])}"
        axes.text(1, y, label, ha="left", va="center", fontsize=11, bbox={"fc": "#f4a261", "ec": "#333"})
    for edge in edges:
        if edge["text_node"] in text_y and edge["track_id"] in track_y:
            y0, y1 = text_y[edge["text_node"]], track_y[edge["track_id"]]
            axes.plot([0.02, 0.98], [y0, y1], color="#2a9d8f", lw=1 + 2 * max(0.0, edge["score"]))
            axes.text(0.5, (y0 + y1) / 2, f"{edge['score']:.2f}", ha="center", va="bottom", fontsize=9)
    axes.set_xlim(-0.9, 1.9)
    axes.set_ylim(-0.8, height - 0.2)
    axes.axis("off")
    axes.set_title("HSG coreference edges: caption objects -> video tracks", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
