"""The rule-aware joint decoder of the oracle check: per pair, the most probable label given
that the image's relations keep every scene rule.

The model: each pair's scores are independent label probabilities, and an image is possible
only when its labels keep the scene rules (``rules.GROUP_RULES``, converses). The scene rules
see a label only through the counters it increments (``ConstraintState.keys``), so the labels of
a pair fall into groups that every rule treats alike ("riding", "on" and "sitting on" from a
person to a horse; "holding" and "has"; the proximity words; no relation). Pairs that can share
a counter form a component; per component the decoder enumerates every rule-keeping choice of
groups (groups with under ``MIN_GROUP_MASS`` of their pair's probability are left out), which
gives each pair's group probability under the rules; a label's probability is its group's
times its share of the group. "Exactly one" rules are hard unless no choice of the component
keeps them. A component too large to enumerate (``MAX_LEAVES``) is decoded greedily: candidates
by decreasing group mass, accepted while they keep the rules, then the unmet "exactly one"
rules filled by the relabelling that loses least. Finally, of two opposite pairs whose labels
contradict, the less probable one takes its best non-contradicting label of the same group.
Without binding rules the result is the independent argmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .rules import GROUP_RULES, ConstraintState, contradicts

__all__ = ["MIN_GROUP_MASS", "MAX_LEAVES", "rule_groups", "decode_joint"]

MIN_GROUP_MASS = 0.01
MAX_LEAVES = 20000
_LIMITS = {rule.name: rule.limit for rule in GROUP_RULES}
_EXACT = {rule.name: rule for rule in GROUP_RULES if rule.exact}


@lru_cache(maxsize=4096)
def rule_groups(subj: str, obj: str, predicates: tuple[str, ...]) -> tuple[np.ndarray, tuple]:
    """For a (subject, object) class pair: [P + 1] group id per column (0 = no relation) and,
    per group id, the rule counters its labels increment as (rule name, 0 = subject /
    1 = object)."""
    state = ConstraintState([subj, obj])
    ids: dict[frozenset, int] = {}
    sigs: list[frozenset] = [frozenset()]  # group 0: no relation
    out = np.zeros(len(predicates) + 1, dtype=np.int64)
    for p, name in enumerate(predicates, start=1):
        sig = frozenset(state.keys(0, 1, name))
        if sig not in ids:
            ids[sig] = len(sigs)
            sigs.append(sig)
        out[p] = ids[sig]
    return out, tuple(sigs)


def _groups(probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
            predicates: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """Group ids [M, P + 1], group masses [M, P + 1] per column, counter keys per pair."""
    preds = tuple(predicates)
    found = [rule_groups(classes[s], classes[o], preds) for s, o in pairs]
    gid = np.stack([g for g, _ in found]) if found else np.zeros((0, len(preds) + 1), int)
    rows = np.repeat(np.arange(len(pairs))[:, None], gid.shape[1], axis=1)
    sums = np.zeros(probs.shape, dtype=np.float64)
    np.add.at(sums, (rows, gid), np.clip(probs, 0, None))
    keys = [tuple(frozenset((name, int(pair[side])) for name, side in sig) for sig in sigs)
            for pair, (_, sigs) in zip(pairs, found)]
    return gid, sums[rows, gid], keys


def _components(options: list[list[tuple[int, float, frozenset]]]) -> list[list[int]]:
    """Pairs linked by a counter that two of their options share."""
    parent = list(range(len(options)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple, int] = {}
    for m, opts in enumerate(options):
        for _, _, keys in opts:
            for key in keys:
                if key in owner:
                    parent[find(m)] = find(owner[key])
                else:
                    owner[key] = m
    comps: dict[int, list[int]] = {}
    for m in range(len(options)):
        comps.setdefault(find(m), []).append(m)
    return list(comps.values())


def _enumerate(comp: list[int], options: list[list[tuple[int, float, frozenset]]]
               ) -> list[np.ndarray] | None:
    """Probability of each option of each pair of ``comp`` under the rules, or None when the
    component has more than MAX_LEAVES rule-keeping choices."""
    exact = {k for m in comp for _, _, keys in options[m] for k in keys if k[0] in _EXACT}
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
        for c, (_, mass, keys) in enumerate(options[comp[i]]):
            if any(counts.get(k, 0) >= _LIMITS[k[0]] for k in keys):
                continue
            for k in keys:
                counts[k] = counts.get(k, 0) + 1
            choice[i] = c
            going = visit(i + 1, weight * mass)
            for k in keys:
                counts[k] -= 1
            if not going:
                return False
        return True

    if not visit(0, 1.0):
        return None
    kept = sums[True] if sums[True][0].sum() > 0 else sums[False]
    return [s / s.sum() if s.sum() > 0 else s for s in kept]


def _greedy(probs: np.ndarray, mass: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
            predicates: Sequence[str]) -> np.ndarray:
    """Greedy fallback: candidates by decreasing group mass; then fill "exactly one" rules."""
    keys = np.where(probs < 0, -1.0, mass)
    keys[:, 0] = probs[:, 0]
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
    _fill_exact(state, labels, probs, pairs, predicates)
    return labels


def _fill_exact(state: ConstraintState, labels: np.ndarray, probs: np.ndarray,
                pairs: np.ndarray, predicates: Sequence[str]) -> None:
    """Meet every "exactly one" rule the greedy pass left short, relabelling per missing
    relation the pair whose log-probability drops least (in place)."""
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


def _untangle(labels: np.ndarray, score: np.ndarray, gid: np.ndarray, pairs: np.ndarray,
              predicates: Sequence[str]) -> None:
    """Of two opposite pairs with contradicting labels, move the less probable one to its best
    label of the same group that does not contradict (in place)."""
    row = {(int(s), int(o)): m for m, (s, o) in enumerate(pairs)}
    for m, (s, o) in enumerate(pairs):
        r = row.get((int(o), int(s)))
        if r is None or not labels[m] or not labels[r] or not contradicts(
                predicates[labels[m] - 1], predicates[labels[r] - 1]):
            continue
        low = m if score[m, labels[m]] <= score[r, labels[r]] else r
        other = predicates[labels[r if low == m else m] - 1]
        same = [p for p in np.flatnonzero(gid[low] == gid[low, labels[low]])
                if p and score[low, p] >= 0 and not contradicts(predicates[p - 1], other)]
        if same:
            labels[low] = max(same, key=lambda p: score[low, p])


def decode_joint(probs: np.ndarray, pairs: np.ndarray, classes: Sequence[str],
                 predicates: Sequence[str]) -> np.ndarray:
    """[M] label per pair (column index; 0 = no relation) from masked scores ``probs``
    [M, P + 1] (inadmissible entries negative) under every scene rule."""
    gid, mass, keys = _groups(probs, pairs, classes, predicates)
    options: list[list[tuple[int, float, frozenset]]] = []
    for m in range(len(pairs)):
        found = {}
        for p in np.flatnonzero(probs[m] >= 0):
            g = int(gid[m, p])
            found.setdefault(g, (g, float(mass[m, p]), keys[m][g]))
        top = max(found.values(), key=lambda x: x[1])
        options.append([x for x in found.values() if x[1] >= MIN_GROUP_MASS] or [top])
    score = np.where(probs < 0, -1.0, 0.0)
    fallback = None
    for comp in _components(options):
        marginals = _enumerate(comp, options)
        if marginals is None:
            if fallback is None:
                fallback = _greedy(probs, mass, pairs, classes, predicates)
            for m in comp:
                score[m, fallback[m]] = 1.0
            continue
        for m, marg in zip(comp, marginals):
            for (g, group_mass, _), q in zip(options[m], marg):
                cols = (gid[m] == g) & (probs[m] >= 0)
                score[m, cols] = q * probs[m, cols] / max(group_mass, 1e-12)
    labels = score.argmax(axis=1)
    _untangle(labels, score, gid, pairs, predicates)
    return labels
