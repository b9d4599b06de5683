"""Draw one TSG row (schemas/tsg.py) as a PNG: nodes coloured by kind, edges labelled by kind.

    .venv/bin/python -m pipeline.viz.draw_tsg out.png "a man quickly hands a red cup to a woman"
"""

import argparse
import json
import textwrap

from pipeline.caption_rules.parse import DEFAULT_MODEL, load_spacy, parse_caption
from pipeline.parse_captions import to_json_record
from schemas import to_networkx

NODE_COLOURS = {"object": "#8ecae6", "attribute": "#ffd166", "relation": "#ef8a62", "modifier": "#b5e48c"}
NODE_SIZE, FONT_SIZE = 1800, 9  # pt^2 of a node's disc (a 42 pt circle), pt of its text


def node_label(text: str) -> tuple[str, float]:
    """A node's text wrapped at word boundaries and the disc size (pt^2) that holds it: "fades out beneath" becomes
    two lines in a larger disc, so no text runs over the node's edge."""
    wrapped = textwrap.fill(text, width=10, break_long_words=False)
    widest = max(len(line) for line in wrapped.splitlines())
    # About 0.6 em per character, plus a margin; the disc grows with the widest line or the number of lines.
    diameter = max(0.6 * FONT_SIZE * widest, 1.3 * FONT_SIZE * wrapped.count("\n") + FONT_SIZE) + 12
    return wrapped, max(NODE_SIZE, diameter ** 2)


def draw_tsg(row: dict, path) -> None:
    """Write a picture of the TSG in `row` (keys nodes, edges, optional caption) to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.patches import Patch

    graph = to_networkx(row)
    if graph.number_of_nodes() == 0:
        raise ValueError(f"draw_tsg: the row has no nodes (status {row.get('status')!r}, "
                         f"error {row.get('error_message')!r}); nothing to draw.")
    simple = nx.DiGraph(graph)
    layout = nx.kamada_kawai_layout(simple.to_undirected()) if simple.number_of_nodes() > 2 else \
        nx.spring_layout(simple, seed=0)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.3 * simple.number_of_nodes()), 5.0))
    colours = [NODE_COLOURS[graph.nodes[i]["kind"]] for i in simple.nodes]
    labels, sizes = zip(*(node_label(graph.nodes[i]["text"]) for i in simple.nodes))
    nx.draw_networkx_nodes(simple, layout, node_color=colours, node_size=sizes, edgecolors="#333333", ax=axes)
    nx.draw_networkx_labels(simple, layout, labels=dict(zip(simple.nodes, labels)), font_size=FONT_SIZE, ax=axes)
    nx.draw_networkx_edges(simple, layout, arrows=True, arrowsize=16, node_size=sizes, ax=axes,
                           edge_color="#555555", connectionstyle="arc3,rad=0.08")
    edge_labels = {(u, v): data["kind"] for u, v, data in graph.edges(data=True)}
    nx.draw_networkx_edge_labels(simple, layout, edge_labels=edge_labels, font_size=8, font_color="#444444", ax=axes)
    # Under the graph, not over it: a legend inside the axes can hide a node.
    figure.legend(handles=[Patch(color=c, label=k) for k, c in NODE_COLOURS.items()], loc="lower center",
                  ncol=len(NODE_COLOURS), fontsize=8, frameon=False)
    if row.get("caption"):
        axes.set_title(row["caption"], fontsize=10, wrap=True)
    axes.axis("off")
    axes.margins(0.15)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Parse a caption and draw its textual scene graph to a PNG.")
    parser.add_argument("png", help="output PNG path")
    parser.add_argument("caption", help="the caption to parse")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"spaCy model name or path (default {DEFAULT_MODEL})")
    args = parser.parse_args(argv)
    tsg = parse_caption(load_spacy(args.model), args.caption)
    draw_tsg({"caption": args.caption, **tsg}, args.png)
    print(json.dumps(to_json_record(tsg)))
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
