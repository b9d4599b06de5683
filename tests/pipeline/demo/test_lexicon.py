"""The paraphrase lexicon: parts disjoint, no DSG word, and wordings the caption parser reads as intended."""

import re

import numpy as np
import pytest

from pipeline.attributes import COLOR_TERMS
from pipeline.caption_rules.parse import DEFAULT_MODEL, load_spacy, parse_caption
from pipeline.demo import captions, lexicon, splits
from pipeline.demo.generate import COLORS, SHAPES
from pipeline.parse_captions import to_json_record

TABLES = [*(table[key] for table in lexicon.CONCEPTS.values() for key in table), *lexicon.TEMPLATES.values()]


def test_every_concept_has_wordings_in_both_parts_and_they_share_none():
    assert set(lexicon.COLOR_WORDS) == set(COLORS) and set(lexicon.SHAPE_WORDS) == set(SHAPES)
    for options in TABLES:
        assert options[lexicon.TRAIN] and options[lexicon.HELDOUT]
        if options is not lexicon.SINGLE_TEMPLATES:
            assert not set(options[lexicon.TRAIN]) & set(options[lexicon.HELDOUT]), options


def test_no_lexicon_word_is_a_dsg_label_word():
    dsg = splits.dsg_words({"tracks": [{"class_name": s, "color": c} for s in SHAPES for c in COLOR_TERMS]})
    used = lexicon.words_of(lexicon.TRAIN) | lexicon.words_of(lexicon.HELDOUT)
    assert not used & dsg


def test_wording_rejects_an_unknown_part():
    with pytest.raises(ValueError, match="part"):
        lexicon.wording(lexicon.MOTION_VERBS, "val", 0)


def _sample_specs(part, count, seed=0):
    """Random caption specs over the whole lexicon (truth is not the point here, only words and their shapes)."""
    rng = np.random.default_rng(seed)
    predicates = ["moves left", "moves right", "moves up", "moves down", "approaches", "moves away from",
                  "appears", "disappears"]
    kinds = {"approaches": "approach", "moves away from": "move_away", "appears": "appear",
             "disappears": "disappear"}
    specs = []
    for _ in range(count):
        shapes = [str(s) for s in rng.choice(SHAPES, size=3, replace=False)]
        colors = [str(c) for c in rng.choice(list(COLORS), size=3, replace=False)]
        refs = [{"color": c, "shape": s} for c, s in zip(colors, shapes)]
        clauses = []
        for i in range(int(rng.integers(1, 3))):
            predicate = str(rng.choice(predicates))
            kind = kinds.get(predicate, "move")
            has_object = kind in ("approach", "move_away")
            clauses.append({
                "kind": kind, "subject": refs[i], "object": refs[2] if has_object else None,
                "predicate": predicate, "adverb": str(rng.choice(["slow", "quick"])) if rng.random() < 0.6 else None,
                "adverb_first": bool(rng.random() < 0.5), "variant": int(rng.integers(6)),
                "indefinite": kind == "appear", "modifier": None if has_object or rng.random() < 0.5 else {
                    "predicate": str(rng.choice(captions.SPATIAL)), "object": refs[2], "variant": int(rng.integers(2))},
            })
        order = None if len(clauses) == 1 else str(rng.choice(["then", "while"]))
        templates = {"then": lexicon.SEQUENTIAL_TEMPLATES, "while": lexicon.CONCURRENT_TEMPLATES,
                     None: lexicon.SINGLE_TEMPLATES}[order][part]
        specs.append({"clauses": clauses, "order": order, "template": templates[int(rng.integers(len(templates)))],
                      "elide_repeats": False, "part": part,
                      "picks": {k: int(rng.integers(6)) for k in captions.PICK_KEYS}})
    return specs


@pytest.mark.parametrize("part", lexicon.PARTS)
def test_the_caption_parser_reads_objects_colours_relations_and_order(part):
    nlp = load_spacy(DEFAULT_MODEL)
    nouns = {w: s for s, parts in lexicon.SHAPE_WORDS.items() for w in parts[part]}
    colours = {w for parts in lexicon.COLOR_WORDS.values() for w in parts[part]}
    good, specs = 0, _sample_specs(part, 60)
    for spec in specs:
        caption = captions.render(spec)
        record = to_json_record(parse_caption(nlp, caption), object_names="text", predicate_names="text")
        words = re.findall(r"[a-z]+", caption.lower())
        expected = {(b, a) for a, b in zip(words, words[1:]) if a in colours and b in nouns}
        objects_ok = set(record["objects"]) == {n for n, _ in expected}
        attributes_ok = expected <= {tuple(a) for a in record["attributes"]}
        relations_ok = len({r[0] for r in record["relations"]}) >= len(spec["clauses"]) - 1 and record["relations"]
        order_ok = spec["order"] is None or bool(record["temporal"])
        good += bool(objects_ok and attributes_ok and relations_ok and order_ok)
    # measured: 58 of 60 (train), 50 of 60 (heldout); the old wording passed ~89 % of the demo captions on a like check
    assert good >= 0.8 * len(specs), f"{good} of {len(specs)} captions parsed as intended"
