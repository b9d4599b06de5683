import pytest

from pipeline.caption_model.features import Candidate
from pipeline.caption_model.parse import LearnedParser, apply_decisions, decide
from pipeline.caption_model.repairs import drop_inserted_tokens
from pipeline.caption_model.tuples import score
from pipeline.caption_rules.parse import parse_caption
from pipeline.parse_captions import to_json_record


@pytest.fixture(scope="module")
def learned():
    return LearnedParser()


def rules(learned, caption):
    return to_json_record(parse_caption(learned.nlp, caption))


def parsed(learned, *captions, previous=None):
    return [to_json_record(g) for g in learned.parse(list(captions), previous_captions=previous)]


def test_graphs_have_the_rules_structure(learned):
    graph = learned.parse(["a laptop computer on the desk"])[0]
    assert set(graph) == {"nodes", "edges"}
    for node in graph["nodes"]:
        assert set(node) == {"kind", "text", "lemma", "token_start", "token_end"}
    for edge in graph["edges"]:
        assert 0 <= edge["source"] < len(graph["nodes"]) and 0 <= edge["target"] < len(graph["nodes"])


def test_compound_head_named_alone_with_modifier_as_attribute(learned):
    r = parsed(learned, "a laptop computer on the desk")[0]
    assert "computer" in r["objects"] and ["computer", "laptop"] in r["attributes"]
    assert rules(learned, "a laptop computer on the desk")["objects"][0] == "laptop computer"


def test_predicate_renamed_as_factual_names_it(learned):
    assert ["outfit", "under", "suitcase"] in parsed(learned, "cow outfit beneath suitcase")[0]["relations"]


@pytest.mark.xfail(reason="rules: no antecedent across captions", strict=True)
def test_rules_resolve_pronoun_across_captions(learned):
    assert ["girl", "hit", "ball"] in rules(learned, "They hit the ball back and forth quickly.")["relations"]


def test_pronoun_subject_is_the_previous_sentence_subject_in_a_paragraph(learned):
    second = parsed(learned, "They hit the ball back and forth quickly.",
                    previous=[["Two girls stand on a tennis court."]])[0]
    assert ["girl", "hit", "ball"] in second["relations"] and [0, "quickly"] in second["modifiers"]
    alone = parsed(learned, "They hit the ball back and forth quickly.")[0]
    assert alone["relations"] == []


def test_pronouns_followed_back_through_the_paragraph(learned):
    third = parsed(learned, "They run to the net.", previous=[["Two girls stand on a tennis court.",
                                                               "They hit the ball back and forth quickly."]])[0]
    assert ["girl", "run to", "net"] in third["relations"]


def test_pronoun_subject_within_one_caption(learned):
    r = parsed(learned, "A man walks onto the stage. He plays the guitar.")[0]
    assert ["man", "play", "guitar"] in r["relations"]


@pytest.mark.xfail(reason="rules: a subjectless -ing clause after 'before' gives no event", strict=True)
def test_rules_clause_object(learned):
    assert ["chef", "add to", "pan"] in rules(learned, "The chef slices the onions carefully before adding them "
                                                       "to the pan.")["relations"]


def test_clause_object_takes_main_subject_and_object(learned):
    r = parsed(learned, "The chef slices the onions carefully before adding them to the pan.")[0]
    assert ["chef", "add", "onion"] in r["relations"] and ["chef", "add to", "pan"] in r["relations"]
    assert [0, "before", 1] in r["temporal"]
    r = parsed(learned, "A woman stirs the soup after pouring it into a bowl.")[0]
    assert ["woman", "pour into", "bowl"] in r["relations"]
    assert any(kind == "before" for _, kind, _ in r["temporal"])


@pytest.mark.xfail(reason="rules: the small model reads 'court holding' as one phrase", strict=True)
def test_rules_conjoined_participle(learned):
    assert ["man", "hold", "tennis racket"] in rules(learned, "Two men are standing on a court holding tennis "
                                                              "rackets.")["relations"]


def test_conjoined_participle_is_the_subjects_action(learned):
    graph = learned.parse(["Two men are standing on a court holding tennis rackets."])[0]
    r = to_json_record(graph)
    assert ["man", "hold", "tennis racket"] in r["relations"] and ["man", "stand on", "court"] in r["relations"]
    assert not any(s == "court" for s, _, _ in r["relations"])
    holding = next(n for n in graph["nodes"] if n["kind"] == "relation" and n["lemma"] == "hold")
    assert (holding["token_start"], holding["token_end"]) == (7, 8)  # the caption's own token, not the comma's
    r = parsed(learned, "A woman sits on a bench holding an umbrella.")[0]
    assert ["woman", "hold", "umbrella"] in r["relations"]


def test_while_and_then_between_clauses(learned):
    r = parsed(learned, "A woman is washing dishes while a man dries them.")[0]
    assert ["woman", "wash", "dish"] in r["relations"] and [0, "while", 1] in r["temporal"]
    r = parsed(learned, "A man mixes the batter, then he pours it into a pan.")[0]
    assert ["man", "mix", "batter"] in r["relations"] and ["man", "pour into", "pan"] in r["relations"]
    assert [0, "before", 1] in r["temporal"]


def test_decide_never_drops_a_clause_event():
    classes = {"relation": ["keep", "drop", "have", "sit on"]}
    thresholds = {"relation_drop": 0.5, "attribute_drop": 0.5}
    clause = Candidate("relation", 3, ("bias",), clause_verb="pour")
    region = Candidate("relation", 4, ("bias",))
    probs = [[0.1, 0.6, 0.3, 0.0], [0.1, 0.6, 0.3, 0.0]]
    assert decide([clause, region], probs, classes, thresholds) == {("relation", 4): "drop"}
    sit = Candidate("relation", 5, ("bias",), clause_verb="sit")
    assert decide([sit], [[0.2, 0.0, 0.3, 0.5]], classes, thresholds) == {("relation", 5): "sit on"}


def test_apply_decisions_reindexes_and_splits_compounds():
    tsg = {"nodes": [{"kind": "object", "text": "laptop computer", "lemma": "laptop computer", "token_start": 1,
                      "token_end": 3},
                     {"kind": "relation", "text": "on", "lemma": "on", "token_start": 3, "token_end": 4},
                     {"kind": "object", "text": "desk", "lemma": "desk", "token_start": 5, "token_end": 6}],
           "edges": [{"source": 0, "target": 1, "kind": "subject"}, {"source": 1, "target": 2, "kind": "object"}]}
    out = apply_decisions(tsg, {("compound", 0): "head_and_attribute", ("relation", 1): "drop"})
    assert [n["lemma"] for n in out["nodes"]] == ["computer", "desk", "laptop"]
    assert out["nodes"][0]["token_start"] == 2 and out["edges"] == [{"source": 0, "target": 2, "kind": "attribute"}]


def test_inserted_comma_shifts_spans_back():
    tsg = {"nodes": [{"kind": "relation", "text": "hold", "lemma": "hold", "token_start": 8, "token_end": 9}],
           "edges": []}
    assert drop_inserted_tokens(tsg, [7])["nodes"][0]["token_start"] == 7


def test_score_counts_per_kind():
    gold = [{("obj", "man"), ("rel", "man", "on", "bench"), ("obj", "bench")}]
    pred = [{("obj", "man"), ("obj", "bench"), ("rel", "man", "sit on", "bench")}]
    scores = score(gold, pred)
    assert scores["obj"][2] == 1.0 and scores["rel"][2] == 0.0 and scores["all"][:2] == (2 / 3, 2 / 3)
