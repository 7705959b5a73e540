"""Groups whose relations decide each other (rules.CONTEXT_RULES): the truth of one pair is set
by another object of the scene, while the pair's own boxes look the same either way.

- A person at the handle of a horse, bike, motorcycle or chair (its bridle, handlebar or back)
  leads it ("holding") unless someone rides or sits on it; then the person only stands "next
  to" it. The spot is computed before the role is drawn, so both roles have the same boxes; the
  leader faces the mount, the companion turns away.
- A bike or motorcycle that nobody rides or leads is "parked on" the street, else "on" it.
- Two people stand side by side under one umbrella (or with one surfboard or bag between
  them), placed mirror-symmetrically about its handle. One has a bag or a cup in the outer
  hand; the other, whose hands are free, holds the shared item, and the one with full hands is
  "under" the umbrella / "next to" the board or bag.
"""

from __future__ import annotations

from collections.abc import Callable

from .compose_parts import add_held, add_person, add_rider, add_sitter
from .scene import MIN_SIDE, SceneBuilder
from .shape_table import get_shape
from .vocabulary import PERSON

__all__ = ["use_mount", "add_at_handle", "add_couple"]

LEADS = "leads_unless_taken"
SHARES = "free_hand_holds"


def _occupy(name: str) -> Callable[[SceneBuilder, int], int | None]:
    """How a person takes a mount: riding it, or sitting on a chair."""
    return add_sitter if name == "chair" else add_rider


def _handle_spot(b: SceneBuilder, mount: int, name: str
                 ) -> tuple[float, float, float, int] | None:
    """(centre x, ground row, person height, facing) of a person of class ``name`` standing at
    the mount's handle, facing it, with the front hand on it; None when it does not fit."""
    m = b.objects[mount]
    if m.contact is None:
        return None
    hx, _ = b.anchor(mount, "handle")
    front = get_shape(m.name, m.pose).anchors["handle"][0] > 0.5
    facing = -m.facing if front else m.facing
    y = float(m.contact)
    height = b.person_height(y)
    w, h = b.size(name, "standing", height)
    hand_u = get_shape(name, "standing").anchors["hand_front"][0]
    if facing < 0:
        hand_u = 1.0 - hand_u
    cx = hx + w / 2 - hand_u * (w - 1)
    box = b.box_at(cx, y, w, h)
    if not b.inside(box) or not b.free(box, 0.3, ignore=(mount,)):
        return None
    return cx, y, height, facing


def add_at_handle(b: SceneBuilder, mount: int, ground: int, truth: str) -> int | None:
    """A standing person at the handle of ``mount``: "holding" it (facing it) or, when someone
    else uses it, "next to" it (turned away). Same box for both."""
    m = b.objects[mount]
    ground_name = b.objects[ground].name
    options = [p for p in PERSON if b.allowed(p, "standing on", ground_name)
               and b.allowed(p, truth, m.name)]
    if not options or not b.room(1):
        return None
    name = b.choice(options)
    spot = _handle_spot(b, mount, name)
    if spot is None:
        return None
    cx, y, height, facing = spot
    if truth != "holding":
        facing = -facing
    idx = add_person(b, name, "standing", cx, y, height, facing=facing, depth=m.depth + 0.2)
    if idx is not None:
        b.link(idx, ground, "standing on")
        b.link(idx, mount, truth, LEADS)
    return idx


def use_mount(b: SceneBuilder, mount: int, ground: int, ride: float, lead: float,
              company: float) -> bool:
    """Someone rides / sits on ``mount`` (probability ``ride``; then a companion stands at its
    handle with probability ``company``), or leads it (``lead``), or nobody uses it. A two-
    wheeler in use is "on" its ground instead of parked. True when someone rides or leads it."""
    m = b.objects[mount]
    r = b.rng.random()
    used = False
    if r < ride:
        person = _occupy(m.name)(b, mount)
        used = person is not None
        if used and b.chance(company):
            add_at_handle(b, mount, ground, "next to")
    if not used and r < ride + lead:
        used = add_at_handle(b, mount, ground, "holding") is not None
    if used and m.name in ("bike", "motorcycle"):
        m.pose = ""
        b.relink(mount, ground, "on")
    return used


def add_couple(b: SceneBuilder, ground: int, item: str, own: str,
               y_range: tuple[float, float]) -> bool:
    """Two people sharing an umbrella, a surfboard or a bag, the one not holding it with its
    ``own`` bag or cup (see the module docstring); True when all of it fits."""
    truth = "holding" if item == "umbrella" else "carrying"  # what add_held links
    other = "under" if item == "umbrella" else "next to"
    own_truth = "holding" if own == "cup" else "carrying"
    ground_name = b.objects[ground].name
    holders = [p for p in PERSON if b.allowed(p, truth, item)
               and b.allowed(p, "standing on", ground_name)]
    partners = [p for p in PERSON if b.allowed(p, own_truth, own)
                and b.allowed(p, "standing on", ground_name)]
    if not holders or not partners or not b.room(4):
        return False
    names = (b.choice(holders), b.choice(partners))
    mark = b.checkpoint()
    for _ in range(20):
        y = b.rng.uniform(*y_range)
        height = b.person_height(y)
        w, h = b.size(names[0], "standing", height)
        side = 1 if b.chance(0.5) else -1  # the holder faces its partner on this side
        hand_u = get_shape(names[0], "standing").anchors["hand_front"][0]
        hx = b.rng.uniform(w, b.scene.width - w)
        centers = (hx + side * (w / 2 - hand_u * (w - 1)), hx - side * (w / 2 - hand_u * (w - 1)))
        boxes = [b.box_at(c, y, w, h) for c in centers]
        if all(b.inside(x) and b.free(x, 0.3) for x in boxes) and min(w, h) >= MIN_SIDE:
            break
    else:
        return False
    people = []
    for name, cx in zip(names, centers):
        person = add_person(b, name, "standing", cx, y, height, facing=side)
        if person is None:
            b.rollback(mark)
            return False
        b.link(person, ground, "standing on")
        people.append(person)
    holder, partner = people
    kept = add_held(b, partner, own, "hand_front")
    shared = add_held(b, holder, item, "hand_front")
    if kept is None or shared is None:
        b.rollback(mark)
        return False
    b.scene.context[(holder, shared)] = SHARES  # add_held wrote the link itself
    b.link(partner, shared, other, SHARES)
    b.scene.salient.add(frozenset(people))
    return True
