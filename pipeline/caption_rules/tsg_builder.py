"""TSGBuilder: the nodes and edges of one caption's TSG (schemas/tsg.py), added one by one without repeats."""

from dataclasses import dataclass, field


@dataclass
class TSGBuilder:
    """Collects the nodes and edges of one caption's TSG; one node per object, however often it is mentioned."""

    words: list[str]  # the caption's tokens as written (a repaired parse may have changed one)
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)

    def add_node(self, kind: str, tokens, lemma: str | None = None) -> int:
        tokens = sorted(tokens, key=lambda t: t.i)
        self.nodes.append({
            "kind": kind,
            "text": " ".join(self.words[t.i] for t in tokens),
            "lemma": lemma if lemma is not None else " ".join(t.lemma_.lower() for t in tokens),
            "token_start": tokens[0].i,
            "token_end": tokens[-1].i + 1,
        })
        return len(self.nodes) - 1

    def add_edge(self, source: int, target: int, kind: str) -> None:
        edge = {"source": source, "target": target, "kind": kind}
        if source != target and edge not in self.edges:
            self.edges.append(edge)

    def add_attribute(self, obj: int, tokens, lemma: str | None = None) -> None:
        if lemma is None:
            lemma = " ".join(t.lemma_.lower() for t in sorted(tokens, key=lambda t: t.i))
        for edge in self.edges:
            if edge["kind"] == "attribute" and edge["source"] == obj and self.nodes[edge["target"]]["lemma"] == lemma:
                return
        self.add_edge(obj, self.add_node("attribute", tokens, lemma), "attribute")

    def add_relation(self, subjects: list[int], predicate_tokens, objects: list[int], lemma: str | None = None,
                     reciprocal: bool = False):
        """One relation node joining every subject to every object; None when there is no subject.

        A thing related to itself says nothing, unless the caption says so ("two buses next to each other").
        """
        subjects = list(dict.fromkeys(subjects))
        objects = [o for o in dict.fromkeys(objects) if reciprocal or o not in subjects]
        if not subjects:
            return None
        node = self.add_node("relation", predicate_tokens, lemma)
        for s in subjects:
            self.add_edge(s, node, "subject")
        for o in objects:
            self.add_edge(node, o, "object")
        return node
