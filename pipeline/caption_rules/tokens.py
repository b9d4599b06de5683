"""Predicates on one token of a spaCy parse: what a word is in its sentence, read from its tag, label and neighbours."""

from pipeline.caption_rules.words import (
    COLOUR_FILLERS, COLOUR_WORDS, DIRECTION_ADVERBS, DIRECTION_DEPS, LOCATIVE_NOUNS, MATERIAL_WORDS, NOMINAL_DEPS,
    POSITION_WORDS, QUANTITY_NOUNS, SCENE_PLACES,
)


def conjuncts(token) -> list:
    """The token and the tokens coordinated with it ("a woman and a child")."""
    nominal = ("NOUN", "PROPN", "PRON")
    out = [token]
    for child in token.children:
        if child.dep_ == "conj" and (child.pos_ == token.pos_ or (child.pos_ in nominal and token.pos_ in nominal)):
            out.extend(conjuncts(child))
    return out


def of_object(token):
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == "of":
            for grandchild in child.children:
                if grandchild.dep_ == "pobj":
                    return grandchild
    return None


def is_quantity_noun(token) -> bool:
    return token.lemma_.lower() in QUANTITY_NOUNS and of_object(token) is not None


def is_locative_noun(token) -> bool:
    return (token.lemma_.lower() in LOCATIVE_NOUNS and token.dep_ == "pobj" and of_object(token) is not None
            and token.head.head.pos_ != "ADP")


def is_colour_or_material(token) -> bool:
    return token.lower_ in COLOUR_WORDS or token.lower_ in MATERIAL_WORDS or token.lemma_.lower() in MATERIAL_WORDS


def name_tokens(head) -> list:
    """The head noun with its compound modifiers ("tennis player"), colour/material modifiers left out."""
    tokens = [head]
    for child in head.children:
        if (child.dep_ in ("compound", "nmod") and child.i < head.i and not is_colour_or_material(child)
                and child.lower_ not in COLOUR_FILLERS) or (child.dep_ == "amod" and child.lower_ in POSITION_WORDS):
            tokens.extend(name_tokens(child))
    return sorted(tokens, key=lambda t: t.i)


def is_gerund_noun(token) -> bool:
    """"mounted to building": a bare -ing word after a preposition, with nothing of its own, names a thing."""
    return token.tag_ == "VBG" and token.dep_ == "pcomp" and token.head.pos_ == "ADP" and not list(token.children)


def is_compound_subject(token) -> bool:
    """"a giraffe laying on the ground", "woman holding kite": the parser hung the subject on the verb as a
    compound, a noun-phrase adverbial or even an adjective."""
    return (token.dep_ in ("compound", "npadvmod", "amod") and token.head.pos_ == "VERB" and token.i < token.head.i
            and token.pos_ in ("NOUN", "PROPN"))


def is_nominal_adjective(token) -> bool:
    """"the yellow square moves", "leaves on the trees are red": a subject tagged as an adjective or a verb is
    still a thing."""
    if token.dep_ not in ("nsubj", "nsubjpass"):
        return False
    if token.pos_ == "VERB" and token.tag_ in ("VBZ", "NNS"):
        return True
    return (token.pos_ == "ADJ" and any(c.dep_ in ("det", "amod") and c.i < token.i for c in token.children)
            and split_noun(token) is None and not is_misparsed_amod(token))


def is_misparsed_amod(token) -> bool:
    """"The purple(nsubj) square(nsubj) ... moves": an adjective hung as subject on the noun right after it."""
    return token.pos_ == "ADJ" and token.dep_ == "nsubj" and token.head.i == token.i + 1 and token.head.pos_ in (
        "NOUN", "PROPN")


def split_noun(adjective):
    """"the purple square below the circle goes up" parsed as purple(nsubj) -> square(acl): the noun right after
    the adjective is the thing."""
    for child in adjective.children:
        if child.i == adjective.i + 1 and child.pos_ in ("NOUN", "PROPN") and child.dep_ in ("acl", "appos", "dep"):
            return child
    return None


def is_fronted_object(token) -> bool:
    """"rope the man is holding": a noun before a verb that has a subject of its own is what the verb acts on."""
    return is_compound_subject(token) and any(c.dep_ in ("nsubj", "nsubjpass") for c in token.head.children)


def is_fragment_adjective(verb) -> bool:
    """"crumpled paper behind a window": a caption opening with a participle that has an object and no subject
    is a noun phrase whose adjective the parser took for a verb."""
    return (verb.dep_ == "ROOT" and verb.tag_ in ("VBN", "VBD") and (verb.i == 0 or verb.is_sent_start)
            and any(c.dep_ == "dobj" for c in verb.children)
            and not any(c.dep_ in ("nsubj", "nsubjpass", "npadvmod", "compound") for c in verb.children))


def is_direction_word(token) -> bool:
    """"moves right (of the star)": a direction after a verb, whatever part of speech the parser gave it."""
    if token.lower_ not in DIRECTION_ADVERBS or token.head.pos_ not in ("VERB", "AUX") or token.i < token.head.i:
        return False
    if token.lower_ in ("left", "right") and token.i == token.head.i + 1:
        return True  # even when parsed as the verb "left" ("moves left quickly")
    return token.dep_ in DIRECTION_DEPS and all(c.dep_ in ("prep", "advmod") for c in token.children)


def is_object_head(token) -> bool:
    if is_gerund_noun(token):
        return True
    if is_direction_word(token):
        return False
    if is_nominal_adjective(token):
        return True
    if token.pos_ not in ("NOUN", "PROPN"):
        return False
    if token.dep_ not in NOMINAL_DEPS and not is_compound_subject(token):
        return False
    if token.dep_ == "npadvmod" and token.head.pos_ in ("ADJ", "ADV"):
        return False
    return not (is_quantity_noun(token) or is_locative_noun(token) or is_place_word(token))


def is_place_word(token) -> bool:
    """"white in color", "in the distance", "with a plant on top": words for where or how, not things."""
    if token.dep_ != "pobj":
        return False
    word = token.lemma_.lower()
    if word in COLOUR_FILLERS or word in SCENE_PLACES:
        return True
    return word in LOCATIVE_NOUNS and not any(c.dep_ not in ("det", "punct") for c in token.children)
