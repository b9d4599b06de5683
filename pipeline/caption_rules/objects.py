"""Passes: object nodes (nouns, repeated mentions, pronouns) and their attribute nodes."""

from pipeline.caption_rules.tokens import (
    conjuncts, is_colour_or_material, is_compound_subject, is_misparsed_amod, is_object_head, is_quantity_noun,
    name_tokens, split_noun,
)
from pipeline.caption_rules.words import (
    COLOUR_FILLERS, COLOUR_WORDS, DEFINITE_DETERMINERS, FEMALE_NOUNS, FEMALE_PRONOUNS, MALE_NOUNS, MALE_PRONOUNS,
    NON_DESCRIPTIVE_ADJECTIVES, NOT_MODIFIERS, NUMBER_WORDS, PERSON_NOUNS, POSITION_WORDS, RELATIVE_PRONOUNS,
    SHADE_WORDS, SPATIAL_ADJECTIVES, STANDALONE_PRONOUNS, SUBJECT_DEPS, THING_PRONOUNS, TOPIC_PRONOUNS,
)


def add_objects(state) -> None:
    """Reads tokens, in_predicate; writes mention (object nodes and the pronouns, relative pronouns joining them)."""
    for token in state.tokens:
        if token.i in state.in_predicate:
            continue
        if is_object_head(token):
            _add_object(state, token)
        elif token.pos_ == "PRON":
            _resolve_pronoun(state, token)


def alias_adjectives(state) -> None:
    """Reads tokens, mention; writes mention, aliases, graph (the adjective as an attribute of the noun after it)."""
    for token in state.tokens:
        noun = split_noun(token) if token.pos_ == "ADJ" and token.dep_ in ("nsubj", "nsubjpass") else None
        if noun is not None and noun.i not in state.mention:
            _add_object(state, noun)
        if noun is not None:
            state.mention[token.i] = state.mention[noun.i]
            add_adjective(state, state.mention[noun.i], token)
            state.aliases.add(token.i)


def add_attributes(state) -> None:
    """Reads tokens, mention, aliases; writes graph (attribute nodes: adjectives, colours, materials, counts)."""
    for token in state.tokens:
        if token.i in state.mention and token.pos_ != "PRON" and token.i not in state.aliases:
            _add_noun_attributes(state, token)


def _add_object(state, token) -> None:
    name = name_tokens(token)
    lemma = " ".join(t.lower_ if t.pos_ == "VERB" else t.lemma_.lower() for t in name)
    definite = any(c.dep_ == "det" and c.lower_ in DEFINITE_DETERMINERS for c in token.children)
    if definite:
        for i, node in reversed(list(enumerate(state.graph.nodes))):
            if node["kind"] == "object" and node["lemma"] == lemma:
                state.mention[token.i] = i
                return
    state.mention[token.i] = state.graph.add_node("object", name, lemma)


def _resolve_pronoun(state, token) -> None:
    word = token.lower_
    if word in RELATIVE_PRONOUNS:
        relcl = token.head if token.head.dep_ == "relcl" else token.head.head
        if relcl.dep_ == "relcl" and relcl.head.i in state.mention:
            state.mention[token.i] = state.mention[relcl.head.i]
        return
    if word not in TOPIC_PRONOUNS and word not in THING_PRONOUNS and word not in STANDALONE_PRONOUNS:
        return
    earlier = [(i, state.mention[i]) for i in sorted(state.mention) if i < token.i]
    if not earlier:
        # A caption may open with "He ...": the person is then first named by the pronoun.
        if word in STANDALONE_PRONOUNS:
            state.mention[token.i] = state.graph.add_node("object", [token], token.lower_)
        return
    if word in MALE_PRONOUNS or word in FEMALE_PRONOUNS:
        # gender agreement first: "a man hands a cup to a woman, then she drinks"
        wrong = FEMALE_NOUNS if word in MALE_PRONOUNS else MALE_NOUNS
        right = MALE_NOUNS if word in MALE_PRONOUNS else FEMALE_NOUNS
        agreeing = [(i, n) for i, n in earlier if state.head_word(n) in right]
        earlier = agreeing or [(i, n) for i, n in earlier if state.head_word(n) not in wrong] or earlier
    if token.dep_ == "poss" or (word in TOPIC_PRONOUNS and word not in THING_PRONOUNS):
        # "his", "her", "its", "he": the one the sentence is about, its subject or its head noun.
        topics = [node for i, node in earlier if state.tokens[i].dep_ in ("nsubj", "nsubjpass", "ROOT")]
        state.mention[token.i] = topics[-1] if topics else earlier[-1][1]
        return
    # "it" is not the subject of its own clause nor the noun its phrase modifies ("flowers in it").
    clause_head = token.head.head if token.dep_ == "pobj" else token.head
    excluded = {state.mention.get(c.i) for c in clause_head.children if c.dep_ in SUBJECT_DEPS}
    excluded.add(state.mention.get(clause_head.i))
    candidates = [node for _, node in earlier if node not in excluded and state.head_word(node) not in PERSON_NOUNS]
    if candidates:
        state.mention[token.i] = candidates[-1]


def _add_noun_attributes(state, token) -> None:
    obj = state.mention[token.i]
    shade = None
    for child in token.children:
        if ((child.dep_ == "amod" or is_misparsed_amod(child)) and child.lower_ not in NON_DESCRIPTIVE_ADJECTIVES
                and child.pos_ != "DET"
                and child.lower_ not in POSITION_WORDS and not any(map(is_compound_subject, child.children))):
            if child.lower_ in SPATIAL_ADJECTIVES and any(c.dep_ == "prep" for c in child.children):
                continue
            next_word = state.tokens[child.i + 1].lower_ if child.i + 1 < token.i else ""
            if child.lower_ in SHADE_WORDS and next_word in COLOUR_WORDS:
                shade = child  # "dark green leaves": one colour, not "dark" and "green"
                continue
            add_adjective(state, obj, child, shade if shade is not None and shade.i == child.i - 1 else None)
        elif child.dep_ in ("compound", "nmod") and is_colour_or_material(child) and child.i < token.i:
            state.graph.add_attribute(obj, [child], child.lower_)
        elif child.dep_ == "nummod":
            _add_count(state, obj, child)
    for quantity in (token.head.head,) if token.dep_ == "pobj" and token.head.lower_ == "of" else ():
        if is_quantity_noun(quantity):
            for child in quantity.children:
                if child.dep_ == "nummod":
                    _add_count(state, obj, child)


def add_adjective(state, obj: int, adjective, shade=None) -> None:
    # "partly cloudy", "dark green": adverbs and adjectives grading the adjective belong to it.
    grading = [c for c in adjective.children if c.dep_ in ("advmod", "amod", "npadvmod") and c.i < adjective.i
               and c.pos_ in ("ADV", "ADJ") and c.lower_ not in NOT_MODIFIERS]
    tokens = grading + [adjective] + ([shade] if shade is not None else [])
    if adjective.lower_ in COLOUR_FILLERS and grading:
        tokens = grading  # "red colored walls": the colour is red
    for conj in conjuncts(adjective)[1:]:
        if conj.pos_ == "ADJ":
            state.graph.add_attribute(obj, [conj], conj.lower_)
    state.graph.add_attribute(obj, tokens, " ".join(t.lower_ for t in sorted(tokens, key=lambda t: t.i)))


def _add_count(state, obj: int, number) -> None:
    word = number.lower_
    value = NUMBER_WORDS.get(word, word if word.isdigit() else None)
    if value is not None and str(value) != "1":
        state.graph.add_attribute(obj, [number], str(value))
