"""Captions of a synthetic image and their text graphs, as a captioner and a parser give them.

A second simulated annotator (COCO style) describes a few of the scene's *true* relations, not
the VG annotator's written ones: it also mentions relations the VG annotator left out, uses its
own words (synonyms, "a man in a shirt", "a car with wheels"), groups look-alike instances into
plurals ("two men standing on the street"), names the place ("at the beach") and sometimes only
lists what is there ("a park with a dog and a bench"). The text graph of a caption is what a
scene-graph parser returns for it: lemmatised entity heads (one entity for a plural group) and
relations between them, including the parser's usual slip of attaching a trailing
prepositional phrase to the nearer noun. Every choice comes from the caller's generator.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..capgraphs import TextGraph
from .caption_words import (
    COUNT_WORDS,
    NOUNS,
    PHRASES,
    PLACE_WORDS,
    REVERSED_PHRASES,
    SALIENCE,
)
from .relations import geometric_relations
from .scene import Scene
from .vocabulary import GROUND, SKY

__all__ = ["Caption", "true_relations", "write_captions", "CAPTIONS_PER_IMAGE"]

CAPTIONS_PER_IMAGE = 5
_PROXIMITY = ("near", "next to", "in front of", "behind")
_LIST_CAPTION = 0.1  # a caption that only lists things at the place
_SECOND_CLAUSE = 0.4
_PLACE = 0.2
_PLURAL = 0.75
_ATTACH_SLIP = 0.15  # the parser attaches a trailing phrase to the nearer noun
_COLOR = 0.3
_REUSE_DECAY = 0.4  # weight factor per earlier caption of the image about the same relation


@dataclass
class Caption:
    """A sentence, its parsed graph and the scene objects each entity stands for (none for a
    place word)."""

    text: str
    graph: TextGraph
    members: list[tuple[int, ...]]


def true_relations(scene: Scene) -> list[tuple[int, int, str]]:
    """Every true relation of a scene (composition links, then proximity and "above"), one per
    ordered pair."""
    seen: set[tuple[int, int]] = set()
    out = []
    for s, o, truth in list(scene.links) + geometric_relations(scene):
        if (s, o) not in seen:
            seen.add((s, o))
            out.append((s, o, truth))
    return out


def _choose(rng: np.random.Generator, options: Sequence, weights: Sequence[float]):
    p = np.asarray(weights, dtype=np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class _CaptionBuilder:
    """One caption: entities (lemmas) in order of mention, relations and the words."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.entities: list[str] = []
        self.members: list[tuple[int, ...]] = []
        self.instances: dict[int, int] = {}  # scene object -> entity index
        self.relations: list[tuple[int, int, str]] = []

    def mention(self, members: list[int], definite: bool = False) -> str:
        """The noun phrase of one object or a plural group; registers the entity."""
        text, lemma = self.writer.noun_phrase(members, definite)
        index = len(self.entities)
        self.entities.append(lemma)
        self.members.append(tuple(members))
        for m in members:
            self.instances[m] = index
        return text

    def place(self, lemma: str) -> int:
        """Register a place word (no scene object); returns its entity index."""
        self.entities.append(lemma)
        self.members.append(())
        return len(self.entities) - 1

    def relate(self, subject: int, obj: int, lemma: str) -> None:
        """Add a relation between two registered entities."""
        self.relations.append((subject, obj, lemma))

    def caption(self, words: list[str]) -> Caption:
        """Finish the sentence (capitalisation and full stop vary as in COCO captions)."""
        text = " ".join(words)
        rng = self.writer.rng
        if rng.random() < 0.8:
            text = text[0].upper() + text[1:]
        if rng.random() < 0.5:
            text += "."
        return Caption(text, TextGraph(list(self.entities), list(self.relations)),
                       list(self.members))


class _Writer:
    """Writes the captions of one scene."""

    def __init__(self, scene: Scene, rng: np.random.Generator) -> None:
        self.scene = scene
        self.rng = rng
        self.names = [o.name for o in scene.objects]
        self.relations = true_relations(scene)
        self.used: Counter[tuple[int, int]] = Counter()

    def noun_phrase(self, members: list[int], definite: bool) -> tuple[str, str]:
        """Words and lemma for one object or a group of the same class."""
        rng, name = self.rng, self.names[members[0]]
        entries = NOUNS[name]
        singular, plural, lemma, _ = _choose(rng, entries, [e[3] for e in entries])
        if len(members) > 1:
            count = len(members)
            if count in COUNT_WORDS and rng.random() < 0.6:
                return f"{COUNT_WORDS[count]} {plural}", lemma
            return f"{_choose(rng, ('some', 'several'), (0.6, 0.4))} {plural}", lemma
        color = self.scene.objects[members[0]].color
        noun = singular
        if color and name not in GROUND + SKY and rng.random() < _COLOR:
            noun = f"{color} {singular}"
        if singular == plural:  # mass and plural-only nouns: "the sand", "blue jeans"
            article = _choose(rng, ("the", ""), (0.6, 0.4)) if name not in GROUND + SKY else "the"
        elif definite or name in GROUND + SKY:
            article = "the" if rng.random() < 0.75 else _article(noun)
        else:
            article = _choose(rng, (_article(noun), "the", "one"), (0.7, 0.25, 0.05))
        return f"{article} {noun}".strip(), lemma

    def _group(self, subject: int, obj: int, truth: str) -> list[int]:
        """The subject and the look-alikes that share its relation to the same object."""
        members = [subject]
        if self.rng.random() < _PLURAL:
            members += [s for s, o, t in self.relations if o == obj and t == truth
                        and s != subject and self.names[s] == self.names[subject]]
        return members[:5]

    def _focus(self) -> tuple[int, int, str]:
        weights = []
        for s, o, truth in self.relations:
            w = SALIENCE[self.names[s]] * math.sqrt(SALIENCE[self.names[o]])
            if truth in _PROXIMITY:
                w *= 0.5
            weights.append(w * _REUSE_DECAY ** self.used[(s, o)])
        return _choose(self.rng, self.relations, weights)

    def _list_caption(self, classes: list[str]) -> Caption:
        rng = self.rng
        _, place, lemma, _ = _choose(rng, PLACE_WORDS[self.scene.kind],
                                     [w[3] for w in PLACE_WORDS[self.scene.kind]])
        builder = _CaptionBuilder(self)
        builder.place(lemma)
        count = min(len(classes), int(rng.integers(2, 4)))
        picked = rng.choice(len(classes), size=count, replace=False,
                            p=np.array([SALIENCE[c] for c in classes]) / sum(
                                SALIENCE[c] for c in classes))
        phrases = []
        for k in sorted(int(i) for i in picked):
            members = [i for i, n in enumerate(self.names) if n == classes[k]]
            members = members if len(members) > 1 and rng.random() < _PLURAL else members[:1]
            phrases.append(builder.mention(members))
            builder.relate(0, len(builder.entities) - 1, "with")
        listed = " and ".join([", ".join(phrases[:-1]), phrases[-1]] if len(phrases) > 1
                              else phrases)
        return builder.caption([place, "with", listed])

    def _second(self, builder: _CaptionBuilder, head: int, tail: int) -> list[str]:
        """A trailing clause about the head or the tail object, or nothing."""
        rng = self.rng
        options = [(s, o, t) for s, o, t in self.relations
                   if s in (head, tail) and o not in builder.instances]
        if not options or rng.random() >= _SECOND_CLAUSE:
            return []
        s, o, truth = _choose(rng, options, [SALIENCE[self.names[o]] for _, o, _ in options])
        self.used[(s, o)] += 1
        surface, lemma, _ = _choose(rng, PHRASES[truth], [p[2] for p in PHRASES[truth]])
        owner = builder.instances[s]
        joined = s == head and surface != lemma and rng.random() < 0.5  # "... and holding ..."
        if not joined and rng.random() < _ATTACH_SLIP:
            owner = builder.instances[tail if s == head else head]
        words = (["and"] if joined else []) + [surface, builder.mention([o])]
        builder.relate(owner, len(builder.entities) - 1, lemma)
        return words

    def caption(self) -> Caption:
        """One caption of the scene."""
        rng = self.rng
        listable = sorted({n for n in self.names if n not in GROUND + SKY})
        if rng.random() < _LIST_CAPTION and listable:
            return self._list_caption(listable)
        s, o, truth = self._focus()
        self.used[(s, o)] += 1
        builder = _CaptionBuilder(self)
        share, reversed_phrases = REVERSED_PHRASES.get(truth, (0.0, ()))
        if rng.random() < share:  # from the object's side: "a car with black wheels"
            head_text = builder.mention([o])
            surface, lemma, _ = _choose(rng, reversed_phrases, [p[2] for p in reversed_phrases])
            tail_text = builder.mention([s])
            head, tail = o, s
        else:
            head_text = builder.mention(self._group(s, o, truth))
            surface, lemma, _ = _choose(rng, PHRASES[truth], [p[2] for p in PHRASES[truth]])
            tail_text = builder.mention([o], definite=rng.random() < 0.3)
            head, tail = s, o
        builder.relate(0, 1, lemma)
        plural = len([m for m, e in builder.instances.items() if e == 0]) > 1
        form = "fragment" if head == o else _choose(rng, ("fragment", "copula", "there"),
                                                    (0.5, 0.35, 0.15))
        verb = "are" if plural else "is"
        words = {"fragment": [head_text], "copula": [head_text, verb],
                 "there": ["there", verb, head_text]}[form] + [surface, tail_text]
        words += self._second(builder, head, tail)
        if self.scene.kind and rng.random() < _PLACE and not any(
                self.names[i] in GROUND for i in builder.instances):
            entries = PLACE_WORDS[self.scene.kind]
            prep, place, place_lemma, _ = _choose(rng, entries, [e[3] for e in entries])
            builder.relate(0, builder.place(place_lemma), prep)
            words += [prep, place]
        return builder.caption(words)


def write_captions(scene: Scene, rng: np.random.Generator,
                   count: int = CAPTIONS_PER_IMAGE) -> list[Caption]:
    """``count`` captions of ``scene`` with their text graphs."""
    writer = _Writer(scene, rng)
    if not writer.relations:
        raise ValueError("a scene without true relations cannot be captioned")
    return [writer.caption() for _ in range(count)]
