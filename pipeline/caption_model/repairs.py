"""Rule repairs for video sentences, which the region-caption rules (and FACTUAL's labels) do not cover.

- A participle after a place ("two men are standing on a court holding tennis rackets") is read by the small model
  as a modifier of the place ("court holding"); with a comma before it the model reads it as the subject's second
  action, so the caption is parsed again that way (`reparse_participles`).
- A clause opened by before/after/while with an -ing verb and no subject ("slices the onions before adding them to
  the pan") is done by the main clause's subject, and "them"/"it" there is the main clause's object
  (`add_clause_events`).
- A pronoun subject opening a sentence of a paragraph ("They hit the ball back and forth quickly.") stands for the
  previous sentence's subject (`resolve_paragraph_subject`).
"""

from spacy.tokens import Doc

from pipeline.caption_rules.parse import parse_doc
from pipeline.caption_rules.words import PERSON_NOUNS

CLAUSE_MARKERS = {"before": "after_main", "after": "before_main", "while": "while", "by": "while"}
SUBJECT_PRONOUNS = {"they", "he", "she"}
THING_OBJECT_PRONOUNS = {"them", "it"}


def _parse_words(nlp, words: list[str], spaces: list[bool]):
    return nlp(Doc(nlp.vocab, words=words, spaces=spaces))


def participle_comma_positions(doc) -> list[int]:
    """Where a comma would turn a place-modifying participle into the subject's action: the participle's index."""
    out = []
    for token in doc:
        if token.tag_ != "VBG" or token.i < 2 or doc[token.i - 1].pos_ not in ("NOUN", "PROPN"):
            continue
        if doc[token.i - 1].lemma_.lower() in PERSON_NOUNS or token.dep_ in ("advcl", "conj", "ROOT", "xcomp"):
            continue
        earlier = [t for t in token.sent if t.i < token.i - 1]
        has_clause = any(t.pos_ in ("VERB", "AUX") and t.dep_ == "ROOT" and any(
            c.dep_ in ("nsubj", "nsubjpass") and c.lemma_.lower() in PERSON_NOUNS for c in t.children)
            for t in earlier)
        after_place = any(t.dep_ == "prep" and t.head.pos_ in ("VERB", "AUX") for t in earlier)
        if has_clause and after_place:
            out.append(token.i)
    return out


def reparse_participles(nlp, doc):
    """(doc, inserted): the caption parsed again with a comma before each such participle, and the indices of
    the inserted commas in the new doc (none: the doc itself)."""
    positions = participle_comma_positions(doc)
    if not positions:
        return doc, []
    words, spaces, inserted = [], [], []
    for token in doc:
        if token.i in positions:
            if spaces:
                spaces[-1] = False
            inserted.append(len(words))
            words.append(",")
            spaces.append(True)
        words.append(token.text)
        spaces.append(bool(token.whitespace_))
    return _parse_words(nlp, words, spaces), inserted


def drop_inserted_tokens(tsg: dict, inserted: list[int]) -> dict:
    """Token spans of `tsg` as indices into the caption before `inserted` tokens were added."""
    def shift(i: int) -> int:
        return i - sum(1 for j in inserted if j < i)
    return {"nodes": [{**n, "token_start": shift(n["token_start"]), "token_end": shift(n["token_end"])}
                      for n in tsg["nodes"]], "edges": tsg["edges"]}


def _node_at(tsg: dict, token_index: int, kind: str) -> int | None:
    for i, node in enumerate(tsg["nodes"]):
        if node["kind"] == kind and node["token_start"] <= token_index < node["token_end"]:
            return i
    return None


def _relation_ends(tsg: dict, relation: int, kind: str) -> list[int]:
    if kind == "subject":
        return [e["source"] for e in tsg["edges"] if e["kind"] == "subject" and e["target"] == relation]
    return [e["target"] for e in tsg["edges"] if e["kind"] == "object" and e["source"] == relation]


def _mention(tsg: dict, token, main_objects: list[int]) -> list[int]:
    if token.lower_ in THING_OBJECT_PRONOUNS:
        return main_objects
    node = _node_at(tsg, token.i, "object")
    return [] if node is None else [node]


def add_clause_events(doc, tsg: dict) -> dict:
    """Relations of subjectless -ing clauses after before/after/while/by, with the main clause's subject."""
    nodes, edges = [dict(n) for n in tsg["nodes"]], [dict(e) for e in tsg["edges"]]
    graph = {"nodes": nodes, "edges": edges}
    for verb in doc:
        marker = verb.head
        if not (verb.tag_ == "VBG" and verb.dep_ in ("pcomp", "advcl") and marker.lower_ in CLAUSE_MARKERS):
            continue
        main = marker.head if marker.dep_ in ("prep", "mark") else None
        if main is None or main.pos_ not in ("VERB", "AUX") or _node_at(graph, verb.i, "relation") is not None:
            continue
        main_relation = _node_at(graph, main.i, "relation")
        if main_relation is None:
            continue
        subjects = _relation_ends(graph, main_relation, "subject")
        main_objects = _relation_ends(graph, main_relation, "object")
        parts = [([verb], [n for c in verb.children if c.dep_ == "dobj" for n in _mention(graph, c, main_objects)])]
        for prep in (c for c in verb.children if c.dep_ == "prep"):
            parts.append(([verb, prep], [n for c in prep.children if c.dep_ == "pobj"
                                         for n in _mention(graph, c, main_objects)]))
        first = None
        for tokens, objects in parts:
            if not objects or not subjects:
                continue
            nodes.append({"kind": "relation", "text": " ".join(t.text for t in tokens),
                          "lemma": " ".join([verb.lemma_.lower()] + [t.lower_ for t in tokens[1:]]),
                          "token_start": tokens[0].i, "token_end": tokens[-1].i + 1})
            relation = len(nodes) - 1
            first = relation if first is None else first
            edges.extend({"source": s, "target": relation, "kind": "subject"} for s in subjects)
            edges.extend({"source": relation, "target": o, "kind": "object"} for o in objects if o not in subjects)
        if first is not None:
            order = CLAUSE_MARKERS[marker.lower_]
            if order == "after_main":
                edges.append({"source": main_relation, "target": first, "kind": "before"})
            elif order == "before_main":
                edges.append({"source": first, "target": main_relation, "kind": "before"})
            else:
                edges.append({"source": main_relation, "target": first, "kind": "while"})
    return graph


def paragraph_pronoun(doc):
    """The pronoun subject opening `doc` with no noun before it to refer to, or None."""
    for token in doc:
        if token.pos_ in ("NOUN", "PROPN"):
            return None
        if token.lower_ in SUBJECT_PRONOUNS and token.dep_ in ("nsubj", "nsubjpass"):
            return token
    return None


def main_subject(tsg: dict) -> dict | None:
    """The object node the caption is about: the first relation's subject, else its first object."""
    for i, node in enumerate(tsg["nodes"]):
        if node["kind"] == "relation":
            subjects = _relation_ends(tsg, i, "subject")
            if subjects:
                return tsg["nodes"][subjects[0]]
    return next((n for n in tsg["nodes"] if n["kind"] == "object"), None)


def resolve_paragraph_subject(nlp, doc, antecedent: dict):
    """(doc, pronoun index): `doc` parsed again with its opening pronoun replaced by the antecedent's head word
    (same number of tokens, so spans still index the caption); (doc, None) when there is nothing to replace."""
    pronoun = paragraph_pronoun(doc)
    if pronoun is None or antecedent is None:
        return doc, None
    words = [t.text for t in doc]
    words[pronoun.i] = antecedent["text"].split()[-1]
    return _parse_words(nlp, words, [bool(t.whitespace_) for t in doc]), pronoun.i


def name_as_antecedent(tsg: dict, doc, pronoun_index: int, antecedent: dict) -> dict:
    """The node that the replaced pronoun became keeps the word as written and takes the antecedent's name."""
    nodes = []
    for node in tsg["nodes"]:
        if node["kind"] == "object" and node["token_start"] <= pronoun_index < node["token_end"]:
            node = {**node, "text": doc[pronoun_index].text, "lemma": antecedent["lemma"],
                    "token_start": pronoun_index, "token_end": pronoun_index + 1}
        nodes.append(node)
    return {"nodes": nodes, "edges": tsg["edges"]}


def repaired_rule_graph(nlp, doc, tsg: dict | None = None) -> tuple:
    """(doc, graph, inserted): the rules' graph of `doc` with the repairs above (`tsg`: the rules' graph of `doc`
    when already at hand); `inserted` are the commas the parse was repaired with, see drop_inserted_tokens."""
    fixed, inserted = reparse_participles(nlp, doc)
    if inserted or tsg is None:
        tsg = parse_doc(fixed, nlp)
    return fixed, add_clause_events(fixed, tsg), inserted
