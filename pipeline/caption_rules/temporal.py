"""Pass: before/while edges between events ("A, then B", "A while B", "after A, B")."""

from pipeline.caption_rules.words import THEN_ADVERBS, WHILE_ADVERBS


def add_temporal_edges(state) -> None:
    """Reads tokens, events, clause_preps; writes graph (before/while edges between relation nodes)."""
    for token in state.tokens:
        _temporal_edges_of(state, token)


def _event_of(state, token):
    """The first relation node of the event `token` belongs to: its own, or that of the nearest head that has
    one ("then" hung on the subject noun, "while" on the direction word "left")."""
    for _ in range(6):
        if token.i in state.events:
            return state.events[token.i][0]
        if token.head.i == token.i:
            return None
        token = token.head
    return None


def _temporal_edges_of(state, token) -> None:
    word = token.lower_
    if token.dep_ == "advmod" and (word in THEN_ADVERBS or word in WHILE_ADVERBS):
        later, earlier = _event_of(state, token.head), _previous_event(state, token)
        if later is not None and earlier is not None and later != earlier:
            state.graph.add_edge(earlier, later, "before" if word in THEN_ADVERBS else "while")
    elif token.dep_ == "prep" and word in ("after", "before") and any(
            c.dep_ == "pobj" and c.lower_ in ("that", "this") for c in token.children):
        # "A. After that, B" is "A, then B"; "A. Before that, B" the other way round.
        later, earlier = _event_of(state, token.head), _previous_event(state, token)
        if later is not None and earlier is not None and later != earlier:
            state.graph.add_edge(*((earlier, later) if word == "after" else (later, earlier)), "before")
    elif token.dep_ in ("mark", "prep") and word in ("after", "before", "while", "until"):
        clause = token.head if token.dep_ == "mark" else state.clause_preps.get(token.i) or next(
            (c for c in token.children if c.dep_ == "pcomp"), None)
        if clause is None or clause.i not in state.events or clause.head.i == clause.i:
            return
        sub_event, main_event = state.events[clause.i][0], _event_of(state, clause.head)
        if main_event is None or main_event == sub_event:
            return
        if word == "after":
            state.graph.add_edge(sub_event, main_event, "before")
        elif word in ("before", "until"):
            state.graph.add_edge(main_event, sub_event, "before")
        else:
            state.graph.add_edge(main_event, sub_event, "while")


def _previous_event(state, marker):
    """The event told just before `marker` ("A, then B"): the last clause-level verb before it."""
    own = _event_of(state, marker.head)
    before = [i for i in state.events if i < marker.i and state.events[i][0] != own]
    subordinate = ("acl", "relcl", "amod", "advcl", "xcomp", "pcomp")
    main_clause = [i for i in before if state.tokens[i].dep_ not in subordinate]
    verbs = main_clause or before
    return state.events[max(verbs)][0] if verbs else None
