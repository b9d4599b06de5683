"""CaptionState: one caption's tokens, its TSG so far and the tables the rule passes share."""

from dataclasses import dataclass, field

from pipeline.caption_rules.tokens import conjuncts, is_quantity_noun, of_object
from pipeline.caption_rules.tsg_builder import TSGBuilder
from pipeline.caption_rules.words import CLOTHING_WORDS, WEAR_PREPOSITIONS


EACH_OTHER = -1  # stands for the subjects themselves as a relation's object ("next to each other")


@dataclass
class CaptionState:
    """What the passes of `build.build_tsg` share about one caption: its tokens, the TSG built so far, and the
    tables the passes fill in, plus the queries and the one relation rule every pass uses. The tables, each with
    the passes that write it:
      in_predicate       token indices already part of a predicate ("left" in "moves left of"): neither events nor
                         objects (find_direction_phrases; relation(), for each word of a predicate after its first)
      direction_phrases  verb index -> the direction words of "moves to the left" (find_direction_phrases)
      mention            token index -> its object node (add_objects, alias_adjectives)
      aliases            indices of adjectives standing for the noun after them (alias_adjectives)
      clause_preps       "before" read as a preposition -> the verb of the clause it opens (find_clause_prepositions)
      clause_subjects    that verb's index -> its subject, read as the preposition's object (find_clause_prepositions)
      events             verb index -> its relation nodes (add_events, share_deferred_events)
      deferred           verb index -> the complement verb that carries its event, "begins playing" (add_events)
    """

    tokens: list  # made once from the Doc: iterating a Doc builds new Token objects each time
    graph: TSGBuilder
    verbs: frozenset = frozenset()  # known verb lemmas, see verb_lemma
    in_predicate: set = field(default_factory=set)
    direction_phrases: dict = field(default_factory=dict)
    mention: dict = field(default_factory=dict)
    aliases: set = field(default_factory=set)
    clause_preps: dict = field(default_factory=dict)
    clause_subjects: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    deferred: dict = field(default_factory=dict)

    def relation(self, subjects, predicate_tokens, objects, lemma=None):
        """A relation node; its lemma is the verb's lemma and the other words as written ("move left of").

        A garment after "in"/"with" is worn: "a man in a red shirt" -> man wear shirt.
        """
        last = predicate_tokens[-1]
        if lemma is None and last.lower_ in WEAR_PREPOSITIONS and last.dep_ == "prep" and objects != [EACH_OTHER]:
            worn = [o for o in objects if self.is_garment(o)]
            if worn:
                self.relation(subjects, [last], worn, "wear")
                objects = [o for o in objects if o not in worn]
                if not objects:
                    return None
        if lemma is None:
            lemma = " ".join([self.verb_lemma(predicate_tokens[0])] + [t.lower_ for t in predicate_tokens[1:]])
        reciprocal = EACH_OTHER in objects
        if reciprocal:
            objects = subjects
        node = self.graph.add_relation(subjects, predicate_tokens, objects, lemma, reciprocal)
        if node is not None:
            self.in_predicate.update(t.i for t in predicate_tokens[1:])
        return node


    def verb_lemma(self, token) -> str:
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


    def head_word(self, node: int) -> str:
        return self.graph.nodes[node]["lemma"].split()[-1]


    def is_garment(self, node: int) -> bool:
        name = self.graph.nodes[node]
        head_word = name["text"].split()[-1].lower()
        return head_word in CLOTHING_WORDS or name["lemma"].split()[-1] in CLOTHING_WORDS


    def objects(self, token) -> list[int]:
        """Object nodes a nominal token stands for, conjuncts included ("a lemon and a banana")."""
        out = []
        for t in conjuncts(token):
            while is_quantity_noun(t):
                t = of_object(t)
            if t.i in self.mention:
                out.append(self.mention[t.i])
        return out
