"""Closed word classes of English (and dependency-label sets) that the caption rules look words up in."""

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
