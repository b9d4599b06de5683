"""Passes: relation nodes from verbs (active, passive, copula, clauses) and from nouns, with modifiers."""

from pipeline.caption_rules.objects import add_adjective
from pipeline.caption_rules.state import EACH_OTHER
from pipeline.caption_rules.tokens import (
    conjuncts, is_compound_subject, is_direction_word, is_fragment_adjective, is_fronted_object, is_gerund_noun,
    is_locative_noun, is_quantity_noun, of_object,
)
from pipeline.caption_rules.words import (
    CONTAINERS, DIRECTION_ADVERBS, DIRECTION_DEPS, NOT_MODIFIERS, PLACE_PREPOSITIONS, RELATIVE_PRONOUNS,
    SPATIAL_ADJECTIVES, SUBJECT_DEPS, SURFACE_CONTAINERS, THEN_ADVERBS, WHILE_ADVERBS,
)


def add_events(state) -> None:
    """Reads tokens, mention, in_predicate, direction_phrases, clause_preps, clause_subjects; writes graph (relation
    and modifier nodes of each verb), events, deferred, in_predicate."""
    for token in state.tokens:
        if token.pos_ in ("VERB", "AUX") and token.dep_ not in ("aux", "auxpass"):
            _add_event(state, token)
        elif token.dep_ == "aux" and token.lemma_ == "have":
            _add_misparsed_have(state, token)


def add_noun_relations(state) -> None:
    """Reads tokens, mention, clause_preps; writes graph (possessive "have", container, garment and prepositional
    relations of nouns), in_predicate."""
    for token in state.tokens:
        if (token.i in state.mention and token.pos_ != "PRON") or is_quantity_noun(token):
            _relations_of_noun(state, token)


def share_deferred_events(state) -> None:
    """Reads deferred, events; writes events: a verb whose complement carries its event gets that event."""
    for verb, complement in sorted(state.deferred.items(), reverse=True):
        if complement in state.events:
            state.events[verb] = state.events[complement]


def find_clause_prepositions(state) -> None:
    """Reads tokens; writes clause_preps, clause_subjects.

    "moves toward the circle before the square goes down", parsed as before(prep) -> square(pobj) and
    goes(advcl) without a subject: "before" opens a clause whose subject is that noun."""
    for prep in state.tokens:
        if prep.dep_ != "prep" or prep.lower_ not in ("after", "before", "while", "until"):
            continue
        noun = next((c for c in prep.children if c.dep_ == "pobj"), None)
        clause = next((c for c in prep.head.children if c.dep_ == "advcl" and noun is not None
                       and c.i > noun.i and not any(g.dep_ in ("nsubj", "nsubjpass") for g in c.children)), None)
        if clause is not None:
            state.clause_preps[prep.i] = clause
            state.clause_subjects[clause.i] = noun


def _add_misparsed_have(state, have) -> None:
    """"the bird has beak": the parser made "has" an auxiliary of the noun (or its adjective) it owns."""
    owned = have.head
    while owned.i not in state.mention and owned.dep_ in ("amod", "compound") and owned.head.i != owned.i:
        owned = owned.head
    if owned.i not in state.mention:
        return
    owners = [n for c in [*have.children, *have.head.children, *owned.children] if c.dep_ in SUBJECT_DEPS
              for n in state.objects(c)]
    relation = state.relation(owners, [have], state.objects(owned))
    if relation is not None:
        state.events[have.i] = [relation]



def _prepositional_objects(state, prep):
    """(predicate tokens, object nodes) of a preposition, complex prepositions joined ("in front of")."""
    words = [prep]
    inner = prep
    while True:
        pobjs = [c for c in inner.children if c.dep_ == "pobj"]
        pobjs += [c for c in inner.children if is_gerund_noun(c)]
        nested = [c for c in inner.children if c.dep_ in ("prep", "pcomp") and c.pos_ == "ADP"]
        if not pobjs and nested:
            inner = nested[0]
            words.append(inner)
            continue
        break
    if not pobjs:
        return words, []
    pobj = pobjs[0]
    if pobj.lower_ == "other" and any(c.lower_ == "each" for c in pobj.children):
        return words, [EACH_OTHER]
    if is_locative_noun(pobj):
        of = next(c for c in pobj.children if c.dep_ == "prep" and c.lower_ == "of")
        return words + [pobj, of], state.objects(of_object(pobj))
    return words, state.objects(pobj)


def _prepositions(state, head):
    """Every (predicate tokens, objects) hanging off `head` through a preposition."""
    for child in head.children:
        if child.i in state.clause_preps:
            continue
        if child.dep_ in ("prep", "dative") and child.pos_ == "ADP":
            words, objects = _prepositional_objects(state, child)
            if objects:
                yield words, objects
        elif child.dep_ in DIRECTION_DEPS and (child.lower_ in SPATIAL_ADJECTIVES
                                               or child.lower_ in DIRECTION_ADVERBS):
            for prep in child.children:
                if prep.dep_ == "prep":
                    words, objects = _prepositional_objects(state, prep)
                    if objects:
                        yield [child] + words, objects


def _subjects(state, verb, inherited: bool = False) -> list[int]:
    """Who does `verb`; `inherited`: asked for a verb that shares it ("is seen standing", "was hit and fell")."""
    subject_deps = SUBJECT_DEPS | {"nsubjpass"} if inherited else SUBJECT_DEPS
    if verb.i in state.clause_subjects:
        return state.objects(state.clause_subjects[verb.i])
    for child in verb.children:
        if child.dep_ in subject_deps or (is_compound_subject(child) and not is_fronted_object(child)):
            return state.objects(child)
    if verb.dep_ in ("acl", "relcl") and verb.head.i in state.mention:
        if verb.dep_ == "acl" and verb.tag_ == "VBN":
            return []
        if verb.dep_ == "acl" and verb.head.dep_ == "conj" and verb.head.head.i in state.mention:
            # "a man and a woman standing on the grass": the participle follows the whole coordination
            return state.objects(verb.head.head)
        return state.objects(verb.head)
    if verb.dep_ in ("conj", "xcomp", "advcl", "dep") and verb.head.pos_ in ("VERB", "AUX"):
        return _subjects(state, verb.head, inherited=True)
    if verb.dep_ == "conj" and verb.head.dep_ in ("acl", "relcl") or verb.dep_ == "acl":
        return _subjects(state, verb.head) if verb.head.pos_ in ("VERB", "AUX") else state.objects(verb.head)
    return []


def _is_passive(state, verb) -> bool:
    if any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children):
        return True
    return verb.dep_ == "acl" and verb.tag_ == "VBN"


def _add_event(state, verb) -> None:
    """The relation nodes of one verb, with its manner adverbs as modifier nodes."""
    if verb.i in state.in_predicate:
        return
    particles = [c for c in verb.children if c.dep_ == "prt" or (
        is_direction_word(c) and not any(g.dep_ == "prep" for g in c.children))]
    particles += state.direction_phrases.get(verb.i, [])
    predicate = [verb] + particles

    complement = next((c for c in verb.children if c.dep_ == "xcomp" and c.pos_ in ("VERB", "AUX")
                       and not is_direction_word(c)), None)
    if complement is not None and verb.lemma_ != "be" and not any(
            c.dep_ in ("dobj", "prep", "dative", "agent") for c in verb.children):
        # "begins playing the guitar", "is seen speaking": the event is the complement's.
        state.deferred[verb.i] = complement.i
        return
    if is_fragment_adjective(verb):
        for noun in (c for c in verb.children if c.dep_ == "dobj"):
            for obj in state.objects(noun):
                state.graph.add_attribute(obj, [verb], verb.lower_)
            for words, objects in _prepositions(state, verb):
                state.relation(state.objects(noun), words, objects)
        return
    if verb.lemma_.lower() == "be":
        relations = _add_copula(state, verb)
    elif _is_passive(state, verb):
        relations = _add_passive(state, verb, predicate)
    else:
        relations = _add_active(state, verb, predicate)
    relations = [r for r in relations if r is not None]
    if relations:
        state.events[verb.i] = relations
        _add_modifiers(state, relations, predicate, bool(particles))


def _add_passive(state, verb, predicate) -> list:
    """"a bench shaded by the tree" -> tree shade bench; "boats tied to a dock" -> boat tie to dock."""
    patients = [n for c in verb.children if c.dep_ == "nsubjpass" for n in state.objects(c)]
    if verb.dep_ == "acl" and verb.head.i in state.mention:
        patients = state.objects(verb.head)
    agents = [n for c in verb.children if c.dep_ == "agent"
              for p in c.children if p.dep_ == "pobj" for n in state.objects(p)]
    relations = [state.relation(agents, predicate, patients)] if agents else []
    for words, objects in _prepositions(state, verb):
        relations.append(state.relation(patients, predicate + words, objects))
    return relations or [state.relation(patients, predicate, [])]


def _add_active(state, verb, predicate) -> list:
    """Subject -> verb (+ particle, + preposition) -> object; a relation with only a subject when intransitive."""
    subjects = _subjects(state, verb)
    direct = [n for c in verb.children if c.dep_ in ("dobj", "attr", "oprd") or is_fronted_object(c)
              for n in state.objects(c)]
    if not direct and verb.dep_ == "amod" and verb.tag_ == "VBG" and subjects and verb.head.i in state.mention:
        direct = state.objects(verb.head)  # "lady holding baby", parsed as "lady-holding baby"
    if verb.dep_ == "relcl":
        # "the cup that the woman holds", "the rope the man is holding": the head noun is the object
        for child in verb.children:
            if child.dep_ == "dobj" and child.lower_ in RELATIVE_PRONOUNS or (
                    child.dep_ == "nsubj" and not direct and not list(_prepositions(state, verb))
                    and child.lower_ not in RELATIVE_PRONOUNS and verb.head.i in state.mention):
                direct = state.objects(verb.head)
    relations = [state.relation(subjects, predicate, direct)] if direct else []
    for words, objects in _prepositions(state, verb):
        if direct and words[0].lower_ in PLACE_PREPOSITIONS and words[0].dep_ == "prep":
            state.relation(direct, words, objects)  # "holding an umbrella in his hand": the umbrella's place
        else:
            relations.append(state.relation(subjects, predicate + words, objects))
    return relations or [state.relation(subjects, predicate, [])]


def _add_modifiers(state, relations: list[int], predicate: list, has_particles: bool) -> None:
    """Manner adverbs of the verb, also those the parser hung on its direction ("moves left quickly")."""
    verb = predicate[0]
    candidates = list(verb.children) + [g for p in predicate[1:] for g in p.children]
    after = predicate[-1].i + 1
    if has_particles and after < len(state.tokens) and state.tokens[after].dep_ == "pobj":
        candidates.append(state.tokens[after])  # "to the right quickly", "quickly" read as the object of "to"
    for child in sorted(set(candidates), key=lambda t: t.i):
        if _is_manner_modifier(child) or (child.dep_ == "pobj" and child.pos_ == "ADV"
                                               and child.lower_.endswith("ly")):
            modifier = state.graph.add_node("modifier", [child], child.lemma_.lower())
            for relation in relations:
                state.graph.add_edge(relation, modifier, "modifier")


def _is_manner_modifier(token) -> bool:
    if token.dep_ == "neg":
        return True
    word = token.lower_
    not_manner = THEN_ADVERBS | WHILE_ADVERBS | NOT_MODIFIERS | DIRECTION_ADVERBS | SPATIAL_ADJECTIVES
    return token.dep_ == "advmod" and token.pos_ == "ADV" and word not in not_manner


def _add_copula(state, verb) -> list:
    """"the car is white" (attribute), "the car is on the road" (relation), "there are kites in the sky"."""
    subjects = _subjects(state, verb)
    if any(c.dep_ == "expl" for c in verb.children):
        subjects = [n for c in verb.children if c.dep_ == "attr" for n in state.objects(c)]
    relations = []
    for child in verb.children:
        if child.dep_ == "acomp" and child.pos_ == "ADJ" and child.lower_ not in SPATIAL_ADJECTIVES:
            for adjective in conjuncts(child):
                for s in subjects:
                    add_adjective(state, s, adjective)
    for words, objects in _prepositions(state, verb):
        relations.append(state.relation(subjects, words, objects))
    return relations


def _relations_of_noun(state, token) -> None:
    objects = state.objects(token)
    if not objects:
        return
    for child in token.children:
        if child.dep_ == "poss" and child.pos_ in ("NOUN", "PROPN"):
            case = [c for c in child.children if c.dep_ == "case"] or [child]
            for owner in state.objects(child):
                state.relation([owner], case, objects, "have")
        elif child.dep_ == "prep" and child.lower_ == "of":
            if is_quantity_noun(token):
                continue
            others = [n for p in child.children if p.dep_ == "pobj" for n in state.objects(p)]
            if token.lower_ in CONTAINERS:
                where = "on" if token.lower_ in SURFACE_CONTAINERS else "in"
                state.relation(others, [child], objects, where)
                continue
            for owner in others:
                state.relation([owner], [child], objects, "have")
    for words, targets in _prepositions(state, token):
        if words[0].lower_ == "with":
            # "a lake with cows in it" says cows in lake; "with" adds nothing.
            targets = [t for t in targets if not _points_back(state, t, objects)]
        if words[0].lower_ != "of" and targets:
            state.relation(objects, words, targets)


def _points_back(state, node: int, objects: list[int]) -> bool:
    for i, mention in state.mention.items():
        token = state.tokens[i]
        if (mention in objects and token.pos_ == "PRON" and token.dep_ == "pobj" and token.head.dep_ == "prep"
                and state.mention.get(token.head.head.i) == node):
            return True
    return False
