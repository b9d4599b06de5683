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
reads as a verb. With parser="learned" (the default), a model trained on FACTUAL (pipeline/caption_model/) then
keeps, drops or renames the rules' tuples, and a pronoun opening a caption ("They hit the ball") is named after the
subject of the caption before it in the same video (the row's previous_captions, set by the dataset reader).

    python -m pipeline.parse_captions captions.txt          # one JSON object per line (--parser rules|learned)
    echo "a man quickly hands a red cup to a woman" | python -m pipeline.parse_captions
Drawing a caption's TSG: python -m pipeline.viz.draw_tsg graph.png "a red circle slowly moves toward the blue square"
"""

import argparse
import json
import sys

from pipeline.caption_rules.parse import DEFAULT_MODEL, load_spacy, parse_doc
from schemas.common import STATUS_ERROR, STATUS_OK
from schemas.tsg import SCHEMA

# "learned" (pipeline/caption_model/) scores higher on FACTUAL dev (make eval-tsg); "rules" needs no torch.
PARSERS = ("learned", "rules")
DEFAULT_PARSER = "learned"
# What a rule bug on one odd caption raises; it must not lose the batch, the row says why.
PARSE_ERRORS = (IndexError, KeyError, ValueError, TypeError, AttributeError, StopIteration)


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


class CaptionParser:
    """Stateful stage: sample rows -> TSG rows (schemas.tsg.SCHEMA columns), one per input row, same order."""

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 256, max_chars: int = 2000,
                 parser: str = DEFAULT_PARSER):
        if batch_size < 1 or max_chars < 1:
            raise ValueError(f"CaptionParser: batch_size={batch_size} and max_chars={max_chars} must both be >= 1.")
        if parser not in PARSERS:
            raise ValueError(f"CaptionParser: parser '{parser}' is not one of {', '.join(PARSERS)}.")
        import spacy

        self.nlp = load_spacy(model_name)
        self.learned = None
        if parser == "learned":
            from pipeline.caption_model.parse import LearnedParser

            self.learned = LearnedParser(nlp=self.nlp)
        self.parser = parser
        self.batch_size = batch_size
        self.max_chars = max_chars
        self.model_info = {
            "parser": parser,
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

    def parse_docs(self, docs: list, previous: list) -> list:
        """A TSG, or the exception a caption raised, per doc; `previous`: each caption's previous_captions."""
        if self.learned is not None:
            try:
                return self.learned.parse_docs(docs, previous)
            except PARSE_ERRORS:
                pass  # one caption failed the batch: parse them one by one to find which
        out = []
        for doc, earlier in zip(docs, previous):
            try:
                out.append(parse_doc(doc, self.nlp) if self.learned is None
                           else self.learned.parse_docs([doc], [earlier])[0])
            except PARSE_ERRORS as error:
                out.append(error)
        return out

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
        previous_column = batch.get("previous_captions")
        previous = [None if previous_column is None or previous_column[i] is None else list(previous_column[i])
                    for i, _ in todo]
        docs = list(self.nlp.pipe((caption for _, caption in todo), batch_size=self.batch_size))
        graphs = {}
        for (i, caption), tsg in zip(todo, self.parse_docs(docs, previous)):
            if isinstance(tsg, Exception):
                errors[i] = (f"sample '{batch['sample_id'][i]}': caption parser '{self.parser}' failed "
                             f"({type(tsg).__name__}: {tsg})")
            elif not any(node["kind"] == "object" for node in tsg["nodes"]):
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
    parser.add_argument("--parser", choices=PARSERS, default=DEFAULT_PARSER,
                        help=f"caption parser (default {DEFAULT_PARSER}); each line is parsed on its own")
    args = parser.parse_args(argv)

    if args.file:
        with open(args.file, encoding="utf-8") as f:
            captions = [line.rstrip("\n") for line in f]
    else:
        captions = [line.rstrip("\n") for line in sys.stdin]
    stage = CaptionParser(model_name=args.model, batch_size=args.batch_size, parser=args.parser)
    docs = list(stage.nlp.pipe(captions, batch_size=args.batch_size))
    for tsg in stage.parse_docs(docs, [None] * len(docs)):
        if isinstance(tsg, Exception):
            raise tsg
        print(json.dumps(to_json_record(tsg)))


if __name__ == "__main__":
    main()
