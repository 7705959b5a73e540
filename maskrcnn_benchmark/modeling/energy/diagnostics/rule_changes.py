"""Rule-breaking predicate changes for the ranking test, from the synthetic benchmark's rules.

A change replaces a foreground predicate by one its pair still admits (the pair rule of
``data/datasets/synthetic/rules.py``: classes and box geometry), so a model that judges each
edge on its own cannot see it, while the changed graph breaks a scene or context rule of the
image (one support per subject, one wearer per garment, a bike is ridden, led or parked, no
contradicting reverse relation, ...): it has more rule violations than the GT graph.
Context flips (a bike "on" the street while ridden turned "parked on") are such changes; they
are caught only through the other relations of the image.

``link_changes`` adds or removes relations instead (the graph must hold its background pairs
too): a ``rule_deletion`` removes GT relations that an "exactly one" rule requires (a part's
one whole link, a garment's wearer), a ``rule_addition`` gives background pairs a predicate
that their pair rule admits but a scene rule forbids (a second whole, a second support), and an
``addition`` gives them one that breaks no rule, and a ``matched_addition`` adds the very
predicates of a ``rule_addition`` on other background pairs where they break no rule (a
part's first "of" link where the rule-breaking copy gave it a second). A decoder that lists a
background pair with a predicate asks the energy exactly this: E(graph + link) - E(graph) must
be negative for a required link that is missing and positive for a forbidden one, and a
forbidden addition must cost more than the same predicate added where it is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from maskrcnn_benchmark.data.datasets.synthetic.rules import (
    PAIR_RULES,
    pair_allowed,
    scene_violations,
)
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import GROUP_OF

from .ranking import PredicateGraph, Variant

__all__ = ["SceneRules", "rule_breaking_changes", "link_changes", "LINK_KINDS"]

RULE_KIND = "rule"
# the kinds of link_changes: required relations removed, forbidden ones added, harmless ones
# added, and the forbidden ones' predicates added where they are harmless
LINK_KINDS = ("rule_deletion", "rule_addition", "addition", "matched_addition")


class SceneRules:
    """The synthetic benchmark's rules on a dataset's class and predicate names."""

    def __init__(self, classes: Sequence[str], predicates: Sequence[str]) -> None:
        unknown = ([c for c in classes[1:] if c not in GROUP_OF]
                   + [p for p in predicates[1:] if p not in PAIR_RULES])
        if unknown:
            raise ValueError(f"SceneRules: {unknown[:5]} are not names of the synthetic "
                             "benchmark; the scene rules only apply to its data sets")
        self.classes = list(classes)
        self.predicates = list(predicates)

    @classmethod
    def for_dataset(cls, classes: Sequence[str], predicates: Sequence[str]) -> SceneRules | None:
        """The rules if every class and predicate name is the synthetic benchmark's, else None."""
        try:
            return cls(classes, predicates)
        except ValueError:
            return None

    def violations(self, graph: PredicateGraph, predicates: Tensor) -> int:
        """Number of broken rules of the graph with ``predicates`` on its edges."""
        names = [self.classes[int(label)] for label in graph.labels]
        relations = [(int(s), int(o), self.predicates[int(p)])
                     for (s, o), p in zip(graph.pairs.tolist(), predicates.tolist()) if p > 0]
        return len(scene_violations(names, graph.boxes.double().numpy(), relations))

    def pair_allowed(self, graph: PredicateGraph, edge: int, predicate: int) -> bool:
        """Whether edge ``edge`` with ``predicate`` keeps its pair rule (classes and boxes)."""
        s, o = graph.pairs[edge].tolist()
        boxes = graph.boxes.double()
        return pair_allowed(self.predicates[predicate], self.classes[int(graph.labels[s])],
                            self.classes[int(graph.labels[o])], boxes[s].tolist(),
                            boxes[o].tolist())


def rule_breaking_changes(graph: PredicateGraph, ks: Sequence[int], count: int,
                          rules: SceneRules, generator: torch.Generator,
                          max_tries: int = 20) -> list[Variant]:
    """Up to ``count`` distinct variants per k that change k foreground predicates each.

    Each change keeps its pair rule and, on its own, adds a violation to the GT graph; the k
    changes together must leave more violations than the GT graph has (tried ``max_tries``
    times per variant).
    """
    base = rules.violations(graph, graph.predicates)
    candidates: dict[int, list[int]] = {}
    for edge in graph.foreground_edges().tolist():
        options = []
        for predicate in range(1, len(rules.predicates)):
            if predicate == int(graph.predicates[edge]) or not rules.pair_allowed(
                    graph, edge, predicate):
                continue
            changed = graph.predicates.clone()
            changed[edge] = predicate
            if rules.violations(graph, changed) > base:
                options.append(predicate)
        if options:
            candidates[edge] = options
    edges = torch.tensor(sorted(candidates), dtype=torch.long)
    variants: list[Variant] = []
    for k in ks:
        if len(edges) < k:
            continue
        seen: set[tuple[int, ...]] = set()
        for _ in range(count * max_tries):
            if len([v for v in variants if v.k == k]) >= count:
                break
            changed = graph.predicates.clone()
            for edge in edges[torch.randperm(len(edges), generator=generator)[:k]].tolist():
                options = candidates[edge]
                changed[edge] = options[int(torch.randint(len(options), (1,),
                                                          generator=generator))]
            key = tuple(changed.tolist())
            if key in seen or rules.violations(graph, changed) <= base:
                continue
            seen.add(key)
            variants.append(Variant(RULE_KIND, k, changed))
    return variants


def link_changes(graph: PredicateGraph, ks: Sequence[int], count: int, rules: SceneRules,
                 generator: torch.Generator, max_tries: int = 20) -> list[Variant]:
    """Up to ``count`` distinct variants per k and kind of LINK_KINDS, each with k relations
    removed (``rule_deletion``) or added on background pairs (``rule_addition``, ``addition``).

    A ``rule_deletion`` removes foreground edges whose removal alone breaks a rule (an
    "exactly one" rule's only link); a ``rule_addition`` gives background edges a predicate
    their pair rule admits and whose addition alone breaks a scene rule; an ``addition`` one
    that keeps every rule (alone and together). Additions are drawn (``max_tries`` draws per
    wanted variant): enumerating every background edge and predicate would cost a rule check
    per (edge, predicate).
    """
    base = rules.violations(graph, graph.predicates)
    required = [edge for edge in graph.foreground_edges().tolist()
                if rules.violations(graph, _set(graph.predicates, edge, 0)) > base]
    background = (graph.predicates == 0).nonzero(as_tuple=True)[0].tolist()
    allowed: dict[int, list[int]] = {}

    def options(edge: int) -> list[int]:
        if edge not in allowed:
            allowed[edge] = [p for p in range(1, len(rules.predicates))
                             if rules.pair_allowed(graph, edge, p)]
        return allowed[edge]

    def draw_addition(edge: int, breaking: bool) -> int | None:
        candidates = options(edge)
        if not candidates:
            return None
        predicate = candidates[int(torch.randint(len(candidates), (1,), generator=generator))]
        raises = rules.violations(graph, _set(graph.predicates, edge, predicate)) > base
        return predicate if raises == breaking else None

    variants: list[Variant] = []
    for kind in LINK_KINDS:
        pool = required if kind == "rule_deletion" else background
        for k in ks:
            if len(pool) < k:
                continue
            seen: set[tuple[int, ...]] = set()
            found = 0
            for _ in range(count * max_tries):
                if found >= count:
                    break
                edges = torch.randperm(len(pool), generator=generator)[:k].tolist()
                changed = graph.predicates.clone()
                for index in edges:
                    edge = pool[index]
                    if kind == "rule_deletion":
                        changed[edge] = 0
                        continue
                    predicate = draw_addition(edge, kind == "rule_addition")
                    if predicate is None:
                        break
                    changed[edge] = predicate
                else:
                    violations = rules.violations(graph, changed)
                    key = tuple(changed.tolist())
                    if key in seen or (violations == base) != (kind == "addition"):
                        continue
                    seen.add(key)
                    found += 1
                    variants.append(Variant(kind, k, changed))
    for variant in [v for v in variants if v.kind == "rule_addition"]:
        matched = _matched_addition(graph, variant, background, options, rules, base,
                                    generator, max_tries)
        if matched is not None:
            variants.append(matched)
    return variants


def _matched_addition(graph: PredicateGraph, forbidden: Variant, background: list[int],
                      options: Callable[[int], list[int]], rules: SceneRules, base: int,
                      generator: torch.Generator, max_tries: int) -> Variant | None:
    """The predicates of a ``rule_addition`` added on other background edges (drawn, up to
    ``max_tries`` per predicate) where each keeps its pair rule and all together break no
    rule; None when none is found."""
    added = (forbidden.predicates != graph.predicates).nonzero(as_tuple=True)[0].tolist()
    used = set(added)
    changed = graph.predicates.clone()
    for edge in added:
        predicate = int(forbidden.predicates[edge])
        order = torch.randperm(len(background), generator=generator)[:max_tries].tolist()
        for index in order:
            other = background[index]
            if other in used or predicate not in options(other):
                continue
            trial = changed.clone()
            trial[other] = predicate
            if rules.violations(graph, trial) == base:
                changed = trial
                used.add(other)
                break
        else:
            return None
    return Variant("matched_addition", forbidden.k, changed)


def _set(predicates: Tensor, edge: int, value: int) -> Tensor:
    changed = predicates.clone()
    changed[edge] = value
    return changed
