import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.viz.draw_tsg import NODE_COLOURS, NODE_SIZE, draw_tsg, node_label

ROOT = Path(__file__).resolve().parents[3]


def node(kind, text, i):
    return {"kind": kind, "text": text, "lemma": text, "token_start": i, "token_end": i + 1}


def test_draw_tsg_writes_a_png(tmp_path):
    row = {
        "caption": "a red cup quickly falls",
        "nodes": [node("object", "cup", 2), node("attribute", "red", 1), node("relation", "falls", 4),
                  node("modifier", "quickly", 3)],
        "edges": [{"source": 0, "target": 1, "kind": "attribute"}, {"source": 0, "target": 2, "kind": "subject"},
                  {"source": 2, "target": 3, "kind": "modifier"}],
    }
    path = tmp_path / "tsg.png"
    draw_tsg(row, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000


def test_nodes_are_filled_with_their_kinds_colour(tmp_path):
    row = {"caption": "a red cup", "nodes": [node("object", "cup", 2), node("attribute", "red", 1)],
           "edges": [{"source": 0, "target": 1, "kind": "attribute"}]}
    draw_tsg(row, tmp_path / "tsg.png")
    image = np.asarray(Image.open(tmp_path / "tsg.png").convert("RGB"))
    assert image.shape == (600, 720, 3)  # 6 x 5 inches at 120 dpi

    def pixels_of(kind):
        rgb = [int(NODE_COLOURS[kind][i:i + 2], 16) for i in (1, 3, 5)]
        return int(np.all(image == rgb, axis=-1).sum())

    # A node is thousands of pixels of its colour; the legend shows every kind's colour in a small patch.
    assert pixels_of("object") > 2000 and pixels_of("attribute") > 2000
    assert 0 < pixels_of("relation") < 1000 and 0 < pixels_of("modifier") < 1000


def test_draw_tsg_refuses_an_empty_graph(tmp_path):
    with pytest.raises(ValueError, match="no nodes"):
        draw_tsg({"nodes": [], "edges": [], "status": "error", "error_message": "caption is empty"}, tmp_path / "x.png")


def test_cli_parses_and_draws(tmp_path):
    path = tmp_path / "out.png"
    result = subprocess.run([sys.executable, "-m", "pipeline.viz.draw_tsg", str(path),
                             "a man quickly hands a red cup to a woman"], cwd=ROOT, check=True, capture_output=True,
                            text=True)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert ["man", "hand", "cup"] in json.loads(result.stdout.splitlines()[0])["relations"]


def test_a_long_node_text_wraps_into_a_larger_disc():
    short, phrase, word = node_label("cup"), node_label("fades out beneath"), node_label("turquoise")
    assert short == ("cup", NODE_SIZE)
    assert phrase[0] == "fades out\nbeneath" and phrase[1] > NODE_SIZE
    assert word[0] == "turquoise" and NODE_SIZE < word[1] <= phrase[1]
