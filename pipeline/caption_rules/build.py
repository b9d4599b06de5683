"""The caption rules in the order they run: each pass reads what the passes before it wrote (see CaptionState)."""

from pipeline.caption_rules.directions import find_direction_phrases
from pipeline.caption_rules.events import (
    add_events, add_noun_relations, find_clause_prepositions, share_deferred_events,
)
from pipeline.caption_rules.objects import add_attributes, add_objects, alias_adjectives
from pipeline.caption_rules.state import CaptionState
from pipeline.caption_rules.temporal import add_temporal_edges
from pipeline.caption_rules.tsg_builder import TSGBuilder

PASSES = (
    find_direction_phrases,    # before objects: "left" in "moves to the left" is no object
    add_objects,
    alias_adjectives,          # "the purple square ..." parsed with the adjective as subject
    add_attributes,
    find_clause_prepositions,  # before events: a clause's subject read as a preposition's object
    add_events,
    add_noun_relations,
    share_deferred_events,     # after events: "begins playing" takes the event of "playing"
    add_temporal_edges,        # last: joins the events found
)


def build_tsg(doc, words: list[str], verbs: frozenset = frozenset()) -> TSGBuilder:
    """The TSG of a parsed caption (a spaCy Doc); `words` are its tokens as written, `verbs` known verb lemmas."""
    state = CaptionState(tokens=list(doc), graph=TSGBuilder(words), verbs=verbs)
    for run_pass in PASSES:
        run_pass(state)
    return state.graph
