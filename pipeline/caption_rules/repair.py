"""Repairs of a misread parse: a verb in -s taken for a plural noun is parsed again in its past form."""

import functools

from pipeline.caption_rules.tokens import is_nominal_adjective
from pipeline.caption_rules.words import DIRECTION_ADVERBS, MOTION_WORDS


def _verb_base(word: str, verbs: set) -> str | None:
    """"moves" -> "move", "carries" -> "carry", when the word is a present-tense form of a known verb."""
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and word[: -len(suffix)] + replacement in verbs:
            return word[: -len(suffix)] + replacement
    return None


def _past_form(base: str) -> str:
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ied"
    return base + "ed"


def _misparsed_verbs(doc, verbs: set) -> list:
    """Verbs in -s that the parser took for plural nouns ("a red circle moves left": "circle moves" as a compound).

    The parse gives itself away: a noun with a particle, a clausal role, or a second subject beside it.
    """
    found = []
    for token in doc:
        if token.tag_ != "NNS" or _verb_base(token.lower_, verbs) is None:
            continue
        clausal = token.dep_ in ("ccomp", "advcl", "dep", "xcomp") or (
            token.dep_ == "conj" and token.head.pos_ == "VERB")
        particle = any(c.dep_ == "prt" for c in token.children)
        participle_after = any(c.dep_ == "acl" and c.i == token.i + 1 and c.tag_ in ("VBN", "VBD")
                               and c.lower_ in DIRECTION_ADVERBS for c in token.children)
        second_subject = token.dep_ == "nsubj" and sum(c.dep_ == "nsubj" for c in token.head.children) > 1
        # "circle moves left" read as "circle-moves left(VBD)"; "a ... moves" is "a" before a plural noun.
        direction_as_verb = token.dep_ == "nsubj" and token.head.i == token.i + 1 and token.head.lower_ in (
            DIRECTION_ADVERBS)
        singular_determiner = any(c.dep_ == "det" and c.lower_ in ("a", "an", "each", "every") for c in token.children)
        # Nouns take no manner adverb ("slides quickly") and rarely a direction ("moves toward", "moves away").
        manner = any(c.dep_ == "advmod" and c.lower_.endswith("ly") for c in token.children)
        motion = any(c.lower_ in MOTION_WORDS and c.dep_ in ("prep", "advmod") and c.i > token.i
                     for c in token.children)
        after = [t.lower_ for t in doc[token.i + 1:token.i + 4]]
        # "square slides to the right", "star moves left(VBD)": a direction right after the word
        motion = motion or after[:1] in (["left"], ["right"]) or (after[:2] == ["to", "the"] and after[2:] in (
            ["left"], ["right"]))
        modified = any(c.dep_ in ("compound", "amod", "nsubj") and c.tag_ in ("NN", "NNP", "JJ") and c.i < token.i
                       for c in token.children)
        if particle or manner or (modified and (clausal or participle_after or second_subject or direction_as_verb
                                                 or singular_determiner or motion)):
            found.append(token)
    return found


def repair_parse(nlp, doc):
    """Re-parse a caption whose parse shows a verb read as a noun, with that verb in its past form (which the
    model reads as a verb); keep the repair only when the verb then has a subject."""
    verbs = known_verbs(nlp)
    suspects = _misparsed_verbs(doc, verbs)
    if not suspects:
        return doc
    replaced = {t.i: _past_form(_verb_base(t.lower_, verbs)) for t in suspects}
    text = "".join((replaced.get(t.i, t.text)) + t.whitespace_ for t in doc)
    fixed = nlp(text)
    if len(fixed) != len(doc):
        return doc
    def reads_as_verb(i: int) -> bool:
        if fixed[i].pos_ != "VERB":
            return False
        if any(c.dep_ == "nsubj" and (c.pos_ in ("NOUN", "PROPN", "PRON") or is_nominal_adjective(c))
               for c in fixed[i].children):
            return True
        # "the triangle moved left": still read as "the triangle (that was) moved" + "left", yet a verb of its noun
        return fixed[i].dep_ == "acl" and i + 1 < len(fixed) and fixed[i + 1].lower_ in ("left", "right")

    if all(reads_as_verb(i) for i in replaced):
        return fixed
    return doc


@functools.lru_cache(maxsize=4)
def known_verbs(nlp) -> frozenset:
    """Verb lemmas from the model's lemmatizer tables; none (so no repairs) for a model without them."""
    if "lemmatizer" not in nlp.pipe_names or not hasattr(nlp.get_pipe("lemmatizer"), "lookups"):
        return frozenset()
    lookups = nlp.get_pipe("lemmatizer").lookups
    if not lookups.has_table("lemma_index"):
        return frozenset()
    return frozenset(lookups.get_table("lemma_index").get("verb", []))
