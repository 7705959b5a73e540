"""The rule-aware joint decoder of the oracle check: each pair's label probabilities given
that the image's relations keep every scene rule, rounded to a labelling that keeps them.

The model: each pair's scores are independent label probabilities, and an image is possible
only when its labels keep the scene rules (``rules.GROUP_RULES``, converses). The rules see a
label only through the counters it increments (``ConstraintState.keys``) and, against the
opposite pair, through its converse kind (symmetric, above, under, in front of, behind, other),
so the labels of a pair fall into groups that every rule treats alike ("riding", "on" and
"sitting on" from a person to a horse; "holding" and "has"; "near" and "next to"; no
relation). Pairs that can share a counter, and opposite pairs, form a component; per component
``label_marginals`` enumerates every rule-keeping choice of groups (groups with under
``MIN_GROUP_MASS`` of their pair's probability are left out): a label's probability is its
group's probability under the rules times its share of the group. "Exactly one" rules are
hard unless no choice of the component keeps them. ``decode_joint`` then accepts (pair, label)
candidates from the most probable down while they keep the rules and fills the "exactly one"
rules still unmet with the relabelling that loses least. A component too large to enumerate
(``MAX_LEAVES``) is ordered by its pairs' own group masses instead. Without binding rules the
result is the independent argmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .rules import CONVERSES, GROUP_RULES, SYMMETRIC, ConstraintState, contradicts

__all__ = ["MIN_GROUP_MASS", "MAX_LEAVES", "rule_groups", "label_marginals", "decode_joint"]

MIN_GROUP_MASS = 0.01
MAX_LEAVES = 20000
_LIMITS = {rule.name: rule.limit for rule in GROUP_RULES}
_EXACT = {rule.name: rule for rule in GROUP_RULES if rule.exact}
_DIRECTED = {p for pair in CONVERSES for p in pair}  # above, under, in front of, behind


def _converse_kind(pred: str) -> str:
    """What a label shows the opposite pair: symmetric, one of the directed words, or other."""
    return "near" if pred in SYMMETRIC else pred if pred in _DIRECTED else "on"


class _Option(NamedTuple):
    """One group of labels a pair may take."""

    group: int
    mass: float
    keys: frozenset  # counters (rule name, object) its labels increment
    kind: str  # converse kind ("" = no relation)


@lru_cache(maxsize=4096)
def rule_groups(subj: str, obj: str, predicates: tuple[str, ...]) -> tuple[np.ndarray, tuple]:
    """For a (subject, object) class pair: [P + 1] group id per column (0 = no relation) and,
    per group id, (counters as (rule name, 0 = subject / 1 = object), converse kind)."""
    state = ConstraintState([subj, obj])
    ids: dict[tuple, int] = {}
    sigs: list[tuple] = [(frozenset(), "")]  # group 0: no relation
    out = np.zeros(len(predicates) + 1, dtype=np.int64)
    for p, name in enumerate(predicates, start=1):
        sig = (frozenset(state.keys(0, 1, name)), _converse_kind(name))
        if sig not in ids:
            ids[sig] = len(sigs)
            sigs.append(sig)
        out[p] = ids[sig]
    return out, tuple(sigs)


def _options(probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
             predicates: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[list[_Option]]]:
    """Group ids [M, P + 1], group mass per column [M, P + 1], the options of every pair."""
    preds = tuple(predicates)
    found = [rule_groups(classes[s], classes[o], preds) for s, o in pairs]
    gid = np.stack([g for g, _ in found])
    rows = np.repeat(np.arange(len(pairs))[:, None], gid.shape[1], axis=1)
    sums = np.zeros(probs.shape, dtype=np.float64)
    np.add.at(sums, (rows, gid), np.clip(probs, 0, None))
    mass = sums[rows, gid]
    options = []
    for m, (pair, (_, sigs)) in enumerate(zip(pairs, found)):
        opts = {}
        for p in np.flatnonzero(probs[m] >= 0):
            g = int(gid[m, p])
            keys, kind = sigs[g]
            opts.setdefault(g, _Option(g, float(mass[m, p]), frozenset(
                (name, int(pair[side])) for name, side in keys), kind))
        kept = [x for x in opts.values() if x.mass >= MIN_GROUP_MASS]
        options.append(kept or [max(opts.values(), key=lambda x: x.mass)])
    return gid, mass, options


def _clash(a: str, b: str) -> bool:
    """Whether converse kinds ``a`` (of A -> B) and ``b`` (of B -> A) contradict."""
    return bool(a and b) and contradicts(a, b)


def _components(options: list[list[_Option]], opposite: list[int | None]) -> list[list[int]]:
    """Pairs linked by a counter two of their options share, or opposite pairs that may
    contradict."""
    parent = list(range(len(options)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple, int] = {}
    for m, opts in enumerate(options):
        for key in {k for x in opts for k in x.keys}:
            if key in owner:
                parent[find(m)] = find(owner[key])
            else:
                owner[key] = m
        r = opposite[m]
        if r is not None and any(_clash(x.kind, y.kind) for x in opts for y in options[r]):
            parent[find(m)] = find(r)
    comps: dict[int, list[int]] = {}
    for m in range(len(options)):
        comps.setdefault(find(m), []).append(m)
    return list(comps.values())


def _enumerate(comp: list[int], options: list[list[_Option]], opposite: list[int | None]
               ) -> list[np.ndarray] | None:
    """Probability of each option of each pair of ``comp`` under the rules, or None when the
    component has more than MAX_LEAVES rule-keeping choices."""
    exact = {k for m in comp for x in options[m] for k in x.keys if k[0] in _EXACT}
    at = {m: i for i, m in enumerate(comp)}
    counts: dict[tuple, int] = {}
    choice = [0] * len(comp)
    sums = {True: [np.zeros(len(options[m])) for m in comp],
            False: [np.zeros(len(options[m])) for m in comp]}
    leaves = 0

    def visit(i: int, weight: float) -> bool:
        nonlocal leaves
        if i == len(comp):
            leaves += 1
            met = all(counts.get(k, 0) == _LIMITS[k[0]] for k in exact)
            for flag in {met, False}:
                for j, c in enumerate(choice):
                    sums[flag][j][c] += weight
            return leaves <= MAX_LEAVES
        m = comp[i]
        r = opposite[m]
        before = r is not None and r in at and at[r] < i
        for c, x in enumerate(options[m]):
            if any(counts.get(k, 0) >= _LIMITS[k[0]] for k in x.keys) or (
                    before and _clash(x.kind, options[r][choice[at[r]]].kind)):
                continue
            for k in x.keys:
                counts[k] = counts.get(k, 0) + 1
            choice[i] = c
            going = visit(i + 1, weight * x.mass)
            for k in x.keys:
                counts[k] -= 1
            if not going:
                return False
        return True

    if not visit(0, 1.0):
        return None
    kept = sums[True] if sums[True][0].sum() > 0 else sums[False]
    return [t / t.sum() if t.sum() > 0 else t for t in kept]


def _round(keys: np.ndarray, probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
           predicates: Sequence[str]) -> np.ndarray:
    """Accept candidates by decreasing ``keys`` (then ``probs``) while they keep the rules;
    then fill the "exactly one" rules still unmet."""
    labels = np.zeros(len(pairs), dtype=np.int64)
    done = np.zeros(len(pairs), dtype=bool)
    state = ConstraintState(classes)
    for flat in np.lexsort((-probs.ravel(), -keys.ravel())):
        m, p = divmod(int(flat), probs.shape[1])
        if done[m] or probs[m, p] < 0:
            continue
        s, o = int(pairs[m, 0]), int(pairs[m, 1])
        if p == 0 or state.can_add(s, o, predicates[p - 1]):
            if p:
                state.add(s, o, predicates[p - 1])
            labels[m], done[m] = p, True
    stuck = ~done  # every admissible predicate clashed with the scene: keep the best one
    labels[stuck] = probs[stuck].argmax(axis=1)
    for m in np.flatnonzero(stuck & (labels > 0)):
        state.add(int(pairs[m, 0]), int(pairs[m, 1]), predicates[labels[m] - 1])
    _fill_exact(state, labels, np.where(keys > 0, probs, -1.0), pairs, predicates)
    return labels


def _fill_exact(state: ConstraintState, labels: np.ndarray, probs: np.ndarray,
                pairs: np.ndarray, predicates: Sequence[str]) -> None:
    """Meet every "exactly one" rule the greedy pass left short, relabelling per missing
    relation the pair whose log-probability drops least (in place); labels whose ``probs`` are
    negative (inadmissible, or of no weight under the rules) are not candidates."""
    index = {name: p for p, name in enumerate(predicates, start=1)}
    log = np.log(np.clip(probs, 1e-12, None))
    for rule in _EXACT.values():
        for node, cls in enumerate(state.classes):
            if rule.classes is not None and cls not in rule.classes:
                continue
            while state.count(rule, node) < rule.limit:
                best = None
                for m in np.flatnonzero((pairs[:, 0] == node) | (pairs[:, 1] == node)):
                    s, o = int(pairs[m, 0]), int(pairs[m, 1])
                    old = predicates[labels[m] - 1] if labels[m] else ""
                    if old and any(n in _EXACT and state.count(_EXACT[n], k) <= _LIMITS[n]
                                   for n, k in state.keys(s, o, old)):
                        continue  # relabelling it would leave another "exactly one" unmet
                    if old:
                        state.remove(s, o)
                    for name in rule.outgoing if s == node else rule.incoming:
                        p = index[name]
                        if probs[m, p] >= 0 and (rule.name, node) in state.keys(s, o, name) \
                                and state.can_add(s, o, name):
                            loss = log[m, labels[m]] - log[m, p]
                            if best is None or loss < best[0]:
                                best = (loss, m, p)
                    if old:
                        state.add(s, o, old)
                if best is None:
                    break
                _, m, p = best
                s, o = int(pairs[m, 0]), int(pairs[m, 1])
                if labels[m]:
                    state.remove(s, o)
                state.add(s, o, predicates[p - 1])
                labels[m] = p


def label_marginals(probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
                    predicates: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From masked scores ``probs`` [M, P + 1] (inadmissible entries negative): each label's
    probability under the scene rules [M, P + 1] (negative where inadmissible), whether it was
    computed [M] (False in components too large to enumerate) and each label's group mass."""
    gid, mass, options = _options(probs, pairs, classes, predicates)
    row = {(int(s), int(o)): m for m, (s, o) in enumerate(pairs)}
    opposite = [row.get((int(o), int(s))) for s, o in pairs]
    score = np.where(probs < 0, -1.0, 0.0)
    computed = np.ones(len(pairs), dtype=bool)
    for comp in _components(options, opposite):
        marginals = _enumerate(comp, options, opposite)
        if marginals is None:
            computed[comp] = False
            continue
        for m, marginal in zip(comp, marginals):
            for x, q in zip(options[m], marginal):
                cols = (gid[m] == x.group) & (probs[m] >= 0)
                score[m, cols] = q * probs[m, cols] / max(x.mass, 1e-12)
    return score, computed, mass


def decode_joint(probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
                 predicates: Sequence[str]) -> np.ndarray:
    """[M] label per pair (column index; 0 = no relation) from masked scores ``probs``
    [M, P + 1] (inadmissible entries negative) under every scene rule."""
    if not len(pairs):
        return np.zeros(0, dtype=np.int64)
    score, computed, mass = label_marginals(probs, pairs, classes, predicates)
    keys = np.where(computed[:, None], score, np.where(probs < 0, -1.0, mass))
    return _round(keys, probs, pairs, classes, predicates)
