"""The caption writer's words: nouns per class, phrases per true predicate, place words.

Captions are written by a second simulated annotator (a COCO-style captioner) who sees the true
relations of the scene, not the VG annotator's words. Each table entry is ``(surface words,
parser lemma, weight)``: the caption shows the surface words, the text graph holds the lemma a
scene-graph parser (SGB used SceneGraphParser) would give. Weights are relative frequencies.
"""

from __future__ import annotations

from .vocabulary import GROUP_OF

__all__ = ["NOUNS", "PHRASES", "REVERSED_PHRASES", "PLACE_WORDS", "SALIENCE", "COUNT_WORDS",
           "Noun", "Phrase"]

# (singular, plural, lemma, weight)
Noun = tuple[str, str, str, float]
# (surface, lemma, weight)
Phrase = tuple[str, str, float]

NOUNS: dict[str, tuple[Noun, ...]] = {
    "man": (("man", "men", "man", 0.6), ("guy", "guys", "guy", 0.15),
            ("person", "people", "person", 0.15), ("boy", "boys", "boy", 0.1)),
    "woman": (("woman", "women", "woman", 0.6), ("lady", "ladies", "lady", 0.2),
              ("girl", "girls", "girl", 0.1), ("person", "people", "person", 0.1)),
    "bird": (("bird", "birds", "bird", 0.85), ("seagull", "seagulls", "seagull", 0.15)),
    "cat": (("cat", "cats", "cat", 0.8), ("kitten", "kittens", "kitten", 0.2)),
    "dog": (("dog", "dogs", "dog", 0.8), ("puppy", "puppies", "puppy", 0.2)),
    "horse": (("horse", "horses", "horse", 0.85), ("pony", "ponies", "pony", 0.15)),
    "bike": (("bike", "bikes", "bike", 0.6), ("bicycle", "bicycles", "bicycle", 0.4)),
    "boat": (("boat", "boats", "boat", 0.8), ("sailboat", "sailboats", "sailboat", 0.2)),
    "bus": (("bus", "buses", "bus", 1.0),),
    "car": (("car", "cars", "car", 0.85), ("vehicle", "vehicles", "vehicle", 0.15)),
    "motorcycle": (("motorcycle", "motorcycles", "motorcycle", 0.6),
                   ("motorbike", "motorbikes", "motorbike", 0.25), ("bike", "bikes", "bike", 0.15)),
    "hat": (("hat", "hats", "hat", 0.8), ("cap", "caps", "cap", 0.2)),
    "helmet": (("helmet", "helmets", "helmet", 1.0),),
    "pants": (("pants", "pants", "pants", 0.6), ("jeans", "jeans", "jeans", 0.25),
              ("shorts", "shorts", "shorts", 0.15)),
    "shirt": (("shirt", "shirts", "shirt", 0.75), ("t-shirt", "t-shirts", "t-shirt", 0.25)),
    "bag": (("bag", "bags", "bag", 0.6), ("backpack", "backpacks", "backpack", 0.2),
            ("purse", "purses", "purse", 0.2)),
    "cup": (("cup", "cups", "cup", 0.7), ("mug", "mugs", "mug", 0.3)),
    "kite": (("kite", "kites", "kite", 1.0),),
    "surfboard": (("surfboard", "surfboards", "surfboard", 0.65),
                  ("board", "boards", "board", 0.35)),
    "umbrella": (("umbrella", "umbrellas", "umbrella", 1.0),),
    "bed": (("bed", "beds", "bed", 1.0),),
    "bench": (("bench", "benches", "bench", 1.0),),
    "chair": (("chair", "chairs", "chair", 1.0),),
    "table": (("table", "tables", "table", 0.85), ("desk", "desks", "desk", 0.15)),
    "wheel": (("wheel", "wheels", "wheel", 0.7), ("tire", "tires", "tire", 0.3)),
    "window": (("window", "windows", "window", 1.0),),
    "building": (("building", "buildings", "building", 0.7), ("house", "houses", "house", 0.3)),
    "tree": (("tree", "trees", "tree", 1.0),),
    "beach": (("beach", "beaches", "beach", 0.7), ("sand", "sand", "sand", 0.3)),
    "floor": (("floor", "floors", "floor", 0.8), ("ground", "ground", "ground", 0.2)),
    "grass": (("grass", "grass", "grass", 0.6), ("field", "fields", "field", 0.25),
              ("lawn", "lawns", "lawn", 0.15)),
    "street": (("street", "streets", "street", 0.6), ("road", "roads", "road", 0.4)),
    "water": (("water", "water", "water", 0.6), ("ocean", "oceans", "ocean", 0.25),
              ("sea", "seas", "sea", 0.15)),
    "sky": (("sky", "skies", "sky", 1.0),),
}

# How the captioner phrases each true predicate (subject first).
PHRASES: dict[str, tuple[Phrase, ...]] = {
    "standing on": (("standing on", "stand on", 0.5), ("on", "on", 0.35),
                    ("standing in", "stand in", 0.15)),
    "walking on": (("walking on", "walk on", 0.45), ("walking down", "walk down", 0.3),
                   ("on", "on", 0.25)),
    "sitting on": (("sitting on", "sit on", 0.6), ("seated on", "seat on", 0.15),
                   ("on", "on", 0.25)),
    "lying on": (("lying on", "lie on", 0.5), ("laying on", "lay on", 0.3), ("on", "on", 0.2)),
    "parked on": (("parked on", "park on", 0.5), ("parked along", "park along", 0.2),
                  ("on", "on", 0.3)),
    "riding": (("riding", "ride", 0.7), ("on", "on", 0.2), ("sitting on", "sit on", 0.1)),
    "on": (("on", "on", 0.8), ("on top of", "on top of", 0.2)),
    "in": (("in", "in", 0.8), ("inside", "inside", 0.2)),
    "flying in": (("flying in", "fly in", 0.6), ("in", "in", 0.4)),
    "wearing": (("wearing", "wear", 0.6), ("in", "in", 0.25), ("with", "with", 0.15)),
    "holding": (("holding", "hold", 0.7), ("with", "with", 0.3)),
    "carrying": (("carrying", "carry", 0.55), ("holding", "hold", 0.25), ("with", "with", 0.2)),
    "has": (("with", "with", 0.6), ("has", "have", 0.4)),
    "part of": (("of", "of", 0.7), ("on", "on", 0.3)),
    "above": (("above", "above", 0.4), ("over", "over", 0.3), ("flying over", "fly over", 0.3)),
    "under": (("under", "under", 0.6), ("beneath", "beneath", 0.2), ("below", "below", 0.2)),
    "next to": (("next to", "next to", 0.55), ("beside", "beside", 0.3), ("by", "by", 0.15)),
    "in front of": (("in front of", "in front of", 1.0),),
    "behind": (("behind", "behind", 1.0),),
    "near": (("near", "near", 0.5), ("next to", "next to", 0.2), ("by", "by", 0.15),
             ("close to", "close to", 0.15)),
}

# Predicates the captioner often writes from the object's side ("a car with black wheels").
REVERSED_PHRASES: dict[str, tuple[float, tuple[Phrase, ...]]] = {
    "part of": (0.5, (("with", "with", 0.7), ("has", "have", 0.3))),
    "wearing": (0.1, (("on", "on", 1.0),)),
}

# The place of each scene kind as a caption names it (not always an object class):
# (preposition, noun phrase, lemma, weight).
PLACE_WORDS: dict[str, tuple[tuple[str, str, str, float], ...]] = {
    "street": (("on", "a city street", "street", 0.6), ("in", "the city", "city", 0.4)),
    "park": (("in", "a park", "park", 0.8), ("at", "the park", "park", 0.2)),
    "beach": (("at", "the beach", "beach", 0.6), ("on", "the beach", "beach", 0.4)),
    "indoor": (("in", "a room", "room", 0.6), ("inside", "a house", "house", 0.4)),
}

# How likely a class is to be what a caption is about (by class group).
_GROUP_SALIENCE = {"person": 3.0, "animal": 2.5, "vehicle": 1.5, "handheld": 1.2,
                   "furniture": 1.0, "clothing": 0.8, "fixed": 0.6, "part": 0.4, "ground": 0.5,
                   "sky": 0.3}
SALIENCE = {name: _GROUP_SALIENCE[group] for name, group in GROUP_OF.items()}

COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}
