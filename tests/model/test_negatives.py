import random

from model.data import text_graph
from model.negatives import (exchange, flip_in_caption, flip_opposite, reverse_order_words,
                             structural_negatives)


def test_structural_negatives_swap_attributes_relations_and_order():
    row = {"sample_id": "v#0", "caption": "The red circle moves left before the blue square goes up.",
           "nodes": [{"text": "circle", "kind": "object"}, {"text": "square", "kind": "object"},
                     {"text": "red", "kind": "attribute"}, {"text": "blue", "kind": "attribute"},
                     {"text": "moves left", "kind": "relation"}, {"text": "goes up", "kind": "relation"}],
           "edges": [{"source": 0, "target": 2, "kind": "attribute"}, {"source": 1, "target": 3, "kind": "attribute"},
                     {"source": 0, "target": 4, "kind": "subject"}, {"source": 1, "target": 5, "kind": "subject"},
                     {"source": 4, "target": 5, "kind": "before"}]}
    graph = text_graph(row)
    negatives = structural_negatives(graph, ["moves left", "goes up", "goes down"], random.Random(0))
    assert set(negatives) == {"attribute", "relation", "order"}
    assert negatives["attribute"].node_phrase[:2] == ["blue circle", "red square"]
    renamed = [(a, b) for a, b in zip(graph.node_text, negatives["relation"].node_text) if a != b]
    assert len(renamed) == 1 and renamed[0][0] in ("moves left", "goes up") and renamed[0][1] != renamed[0][0]
    order = negatives["order"].edge_index
    assert order[:, -1].tolist() == [5, 4] and order[:, :-1].tolist() == graph.edge_index[:, :-1].tolist()
    plain = {**row, "nodes": row["nodes"][:1] + row["nodes"][2:3], "edges": row["edges"][:1]}
    assert structural_negatives(text_graph(plain), [], random.Random(0)) == {}


def test_flip_opposite_changes_one_direction_word():
    rng = random.Random(0)
    assert flip_opposite("slide up", rng) == "slide down"
    assert flip_opposite("approach", rng) == "move away from"
    assert flip_opposite("in front of", rng) == "behind" and flip_opposite("behind", rng) == "in front of"
    assert flip_opposite("come into view to right of", rng) in ("come into view to left of",
                                                                "go out of view to right of")
    assert flip_opposite("spin", rng) is None and flip_opposite("upright", rng) is None  # whole words only


def test_negative_captions_say_what_their_graphs_say():
    caption = "After the golden ball draws closer to the maroon star, the ball goes upward."
    row = {"sample_id": "v#0", "caption": caption,
           "nodes": [{"text": "ball", "kind": "object"}, {"text": "star", "kind": "object"},
                     {"text": "golden", "kind": "attribute"}, {"text": "maroon", "kind": "attribute"},
                     {"text": "draws closer to", "kind": "relation"}, {"text": "goes upward", "kind": "relation"}],
           "edges": [{"source": 0, "target": 2, "kind": "attribute"}, {"source": 1, "target": 3, "kind": "attribute"},
                     {"source": 0, "target": 4, "kind": "subject"}, {"source": 4, "target": 1, "kind": "object"},
                     {"source": 0, "target": 5, "kind": "subject"}, {"source": 4, "target": 5, "kind": "before"}]}
    negatives = structural_negatives(text_graph(row), ["draws closer to", "goes upward"], random.Random(0))
    assert negatives["attribute"].caption == ("After the maroon ball draws closer to the golden star, the ball goes "
                                              "upward.")
    assert negatives["order"].caption == "Before the golden ball draws closer to the maroon star, the ball goes upward."
    relation = negatives["relation"]
    assert relation.caption != row["caption"] and relation.caption != ""
    assert exchange(row["caption"], "golden ball", "maroon star").startswith("After the maroon star draws closer to "
                                                                             "the golden ball")
    assert flip_in_caption(row["caption"], "goes upward", "goes downward").endswith("the ball goes downward.")
    assert flip_in_caption("The ball goes upward fast.", "go upward", "go downward") == "The ball goes downward fast."
    # a word the caption holds twice, or not at all, cannot be rewritten
    assert flip_in_caption("The ball goes left, the star goes left.", "goes left", "goes right") is None
    assert exchange(row["caption"], "golden", "purple") is None and reverse_order_words("The ball spins.") is None
