"""The four kinds of scene (street, park, beach, indoor): what may appear and how often."""

from __future__ import annotations

import numpy as np

from .compose_groups import add_couple, use_mount
from .compose_parts import (
    POSE_HEIGHT,
    add_animal,
    add_building,
    add_companion,
    add_held,
    add_item_on,
    add_lier,
    add_person,
    add_rider,
    add_sibling,
    add_sitter,
    add_tree,
    add_vehicle,
    pick_person,
    place_person,
)
from .scene import MIN_SIDE, Scene, SceneBuilder, iom
from .vocabulary import GROUND

__all__ = ["SCENE_KINDS", "compose_scene"]

SCENE_KINDS = {"street": 0.3, "park": 0.27, "beach": 0.2, "indoor": 0.23}


def compose_scene(rng: np.random.Generator, split: int) -> Scene:
    """One random scene (objects, boxes, true structural links) for ``split`` (0 or 2)."""
    kind = list(SCENE_KINDS)[int(rng.choice(len(SCENE_KINDS), p=list(SCENE_KINDS.values())))]
    height = int(rng.choice([208, 224, 240, 256]))
    width = int(rng.choice([w for w in (256, 272, 288, 304, 320) if w >= height]))
    indoor = kind == "indoor"
    horizon = int(height * rng.uniform(*((0.38, 0.5) if indoor else (0.3, 0.45))))
    scale = (0.42, 0.78) if indoor else (0.3, 0.64)
    b = SceneBuilder(rng, kind, width, height, horizon, split, scale)
    {"street": _street, "park": _park, "beach": _beach, "indoor": _indoor}[kind](b)
    return b.scene


def _bands(b: SceneBuilder, top: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(far, anywhere) ranges of ground rows below ``top``."""
    h = b.scene.height
    return (top + 4, top + 0.35 * (h - 1 - top)), (top + 0.1 * (h - 1 - top), h - 1)


def _background(b: SceneBuilder, ground: str, sky: bool = True) -> int:
    s = b.scene
    if sky:
        b.add("sky", (0, 0, s.width - 1, s.horizon), depth=-100.0, facing=1)
    return b.add(ground, (0, s.horizon + 1, s.width - 1, s.height - 1), depth=-90.0, facing=1)


def _flyer(b: SceneBuilder, name: str) -> None:
    """A bird or kite flying in the sky (the sky is object 0 in outdoor scenes)."""
    s = b.scene
    h = max(MIN_SIDE + 4, (0.085 if name == "bird" else 0.16) * s.height)
    w = h * (1.6 if name == "bird" else 0.7)
    if not b.room(1) or s.horizon - 4 < h + 2:
        return
    for _ in range(10):
        cx = b.rng.uniform(w / 2 + 1, s.width - w / 2 - 2)
        box = b.box_at(cx, b.rng.uniform(h + 2, s.horizon - 4), w, h)
        margin = (box[0] - 6, box[1] - 6, box[2] + 6, box[3] + 6)  # keep clear of heads
        if all(iom(margin, o.box) == 0 for o in b.objects if o.name not in ("sky", *GROUND)):
            idx = b.add(name, box, "flying" if name == "bird" else "", depth=-50.0)
            b.link(idx, 0, "flying in")
            return


def _group(b: SceneBuilder, first: int, ground: int, truth: str, prob: float,
           context: str = "") -> list[int]:
    """``first`` and, with probability ``prob``, a sibling beside it (a row or a group)."""
    members = [first]
    if b.chance(prob):
        sibling = add_sibling(b, first, ground, truth, context)
        if sibling is not None:
            members.append(sibling)
    return members


def _horses(b: SceneBuilder, ground: int, y_range: tuple[float, float], group: float) -> None:
    """One horse (or, with probability ``group``, two side by side), each ridden or led: a
    horse that gets neither is taken out again (rule ridden_led_or_parked)."""
    first = None
    for _ in range(2 if b.chance(group) else 1):
        mark = b.checkpoint()
        if first is None:
            horse = add_animal(b, "horse", "standing", ground, y_range)
        else:
            horse = add_sibling(b, first, ground, "standing on")
        if horse is None:
            return
        if not use_mount(b, horse, ground, ride=0.45, lead=0.55, company=0.5):
            b.rollback(mark)
            return
        first = horse if first is None else first


def _under(b: SceneBuilder, thing: int, ground: int, name: str, pose: str) -> int | None:
    """``name`` under ``thing`` (a person under a tree, a cat under a table...)."""
    t = b.objects[thing]
    if not b.allowed(name, "under", t.name) or not b.room(1):
        return None
    tw = t.box[2] - t.box[0]
    cx = b.rng.uniform(t.box[0] + 0.3 * tw, t.box[2] - 0.3 * tw)
    height = b.person_height(t.box[3])
    if name in ("man", "woman"):
        idx = add_person(b, name, pose, cx, t.box[3] + 1, height)
        truth = "standing on"
    else:
        rel = {"standing": 0.28, "lying": 0.2 if name == "cat" else 0.24}[pose]
        w, h = b.size(name, pose, rel * height)
        box = b.box_at(cx, t.box[3] - 1, w, h)
        if not b.inside(box) or min(w, h) < MIN_SIDE * 0.9:
            return None
        idx = b.add(name, box, pose, depth=t.depth - 0.5, contact=box[3])
        truth = "standing on" if pose == "standing" else "lying on"
    if idx is not None:
        b.link(idx, thing, "under")
        b.link(idx, ground, truth)
    return idx


def _people(b: SceneBuilder, ground: int, counts: list[int], p: list[float],
            poses: dict[str, float], yr: tuple[float, float], items: dict[str, float]) -> None:
    for _ in range(b.choice(counts, p)):
        pose = b.choice(list(poses), list(poses.values()))
        person = place_person(b, ground, pose, yr)
        if person is None or pose == "lying":
            continue
        for item, prob in items.items():
            if b.chance(prob):
                add_held(b, person, item)
                break


def _street(b: SceneBuilder) -> None:
    street = _background(b, "street")
    far, anywhere = _bands(b, b.scene.horizon)
    for _ in range(b.choice([0, 1, 1, 2])):
        add_building(b, b.scene.horizon + 3)
    if b.chance(0.7):
        add_couple(b, street, "umbrella", "bag", anywhere)
    vehicles = []
    for _ in range(b.choice([1, 2, 3], [0.45, 0.4, 0.15])):
        name = b.choice(["car", "bus", "bike", "motorcycle"], [0.35, 0.1, 0.3, 0.25])
        v = add_vehicle(b, name, street, far if name == "bus" else anywhere, parked=True)
        if v is None:
            continue
        two_wheels = name in ("bike", "motorcycle")
        group = _group(b, v, street, "parked on", 0.35 if two_wheels else 0.0,
                       "parked_unless_used" if two_wheels else "")
        if two_wheels:
            use_mount(b, b.choice(group), street, ride=0.45, lead=0.4, company=0.5)
        vehicles.extend(group)
    _people(b, street, [0, 1, 2], [0.45, 0.4, 0.15], {"standing": 0.55, "walking": 0.45},
            anywhere, {"umbrella": 0.2, "bag": 0.2})
    for v in vehicles:  # people at two-wheelers stand at their handlebars (compose_groups)
        if b.objects[v].name in ("car", "bus") and b.chance(0.3):
            add_companion(b, v, street)
    if b.chance(0.2):
        add_tree(b, street, (b.scene.horizon + 3, b.scene.horizon + 12), link_ground=False)
    if b.chance(0.25):
        add_animal(b, "dog", "standing", street, anywhere)
    if b.chance(0.08):
        add_animal(b, "bird", "perched", street, anywhere)
    if b.chance(0.2):
        _flyer(b, "bird")


def _park(b: SceneBuilder) -> None:
    grass = _background(b, "grass")
    far, anywhere = _bands(b, b.scene.horizon)
    for prob in (0.6, 0.25):
        if b.chance(prob):
            tree = add_tree(b, grass, far, link_ground=True)
            if tree is not None and b.chance(0.35):
                _under(b, tree, grass, b.choice(["man", "woman"]), "standing")
    if b.chance(0.7):
        add_couple(b, grass, "umbrella", "bag", anywhere)
    if b.chance(0.5) and b.room(1):
        box = b.find_spot("bench", "", 0.42, anywhere)
        if box is not None:
            bench = b.add("bench", box, contact=box[3], blocks=True)
            b.link(bench, grass, "on")
            r = b.rng.random()
            if r < 0.5:
                sitter = add_sitter(b, bench)
                if sitter is not None and b.chance(0.4):
                    add_item_on(b, "bag", bench, b.anchor(bench, "seat")[1], near=sitter)
            elif r < 0.62:
                name = pick_person(b, "lying on", "bench")
                if name is not None:
                    add_lier(b, name, bench, (box[0] + box[2]) / 2,
                             b.anchor(bench, "seat")[1], b.person_height(box[3]))
            if b.chance(0.25):
                _under(b, bench, grass, b.choice(["cat", "dog"]), "lying")
            if b.chance(0.4):
                add_companion(b, bench, grass)
    if b.chance(0.55):
        _horses(b, grass, anywhere, 0.45)
    if b.chance(0.45):
        bike = add_vehicle(b, "bike", grass, anywhere, parked=True)
        if bike is not None:
            use_mount(b, bike, grass, ride=0.45, lead=0.4, company=0.5)
    _people(b, grass, [0, 1, 2], [0.45, 0.4, 0.15],
            {"standing": 0.45, "walking": 0.35, "lying": 0.2}, anywhere,
            {"umbrella": 0.08, "bag": 0.15})
    if b.chance(0.35):
        pose = b.choice(["standing", "lying"], [0.7, 0.3])
        add_animal(b, "dog", pose, grass, anywhere, "standing on" if pose == "standing"
                   else "lying on")
    if b.chance(0.2):
        _flyer(b, "kite")
    if b.chance(0.2):
        _flyer(b, "bird")


def _beach(b: SceneBuilder) -> None:
    s = b.scene
    b.add("sky", (0, 0, s.width - 1, s.horizon), depth=-100.0, facing=1)
    shore = int(s.horizon + b.rng.uniform(0.25, 0.4) * (s.height - 1 - s.horizon))
    water = b.add("water", (0, s.horizon + 1, s.width - 1, shore), depth=-95.0, facing=1)
    beach = b.add("beach", (0, shore + 1, s.width - 1, s.height - 1), depth=-90.0, facing=1)
    in_water = (s.horizon + 0.45 * (shore - s.horizon), shore - 2)
    on_beach = (shore + 0.15 * (s.height - shore), s.height - 1)
    if b.chance(0.45) and b.room(1):
        box = b.find_spot("boat", "", 0.5, in_water)
        if box is not None:
            b.link(b.add("boat", box, contact=box[3], blocks=True), water, "in")
    if b.chance(0.3) and b.room(2):
        box = b.find_spot("surfboard", "flat", 0.2, in_water)
        if box is not None:
            board = b.add("surfboard", box, "flat", contact=box[3], blocks=True)
            b.link(board, water, "in")
            add_rider(b, board)
    if b.chance(0.25) and b.room(1):
        name = b.choice(["man", "woman"])
        box = b.find_spot(name, "wading", POSE_HEIGHT["wading"], in_water)
        if box is not None:
            person = add_person(b, name, "wading", (box[0] + box[2]) / 2, box[3],
                                b.person_height(box[3]))
            if person is not None:
                b.link(person, water, "in")
    if b.chance(0.85):
        add_couple(b, beach, b.choice(["umbrella", "surfboard"]), "bag", on_beach)
    if b.chance(0.4) and b.room(1):
        box = b.find_spot("umbrella", "planted", 1.05, on_beach)
        if box is not None:
            umbrella = b.add("umbrella", box, "planted", contact=box[3], blocks=True)
            b.link(umbrella, beach, "on")
            if b.chance(0.5):
                name = pick_person(b, "lying on", "beach")
                cx = (box[0] + box[2]) / 2 + b.rng.uniform(-0.15, 0.15) * (box[2] - box[0])
                person = add_lier(b, name, beach, cx, box[3] - 2, b.person_height(box[3]),
                                  ignore=(umbrella,))
                if person is not None:
                    b.link(person, umbrella, "under")
    _people(b, beach, [0, 1, 2], [0.45, 0.4, 0.15], {"standing": 0.4, "walking": 0.3, "lying": 0.3},
            on_beach, {"surfboard": 0.2, "bag": 0.1})
    if b.chance(0.15) and b.room(1):
        box = b.find_spot("surfboard", "flat", 0.2, on_beach)
        if box is not None:
            b.link(b.add("surfboard", box, "flat", contact=box[3], blocks=True), beach, "on")
    if b.chance(0.2):
        add_animal(b, "dog", "standing", beach, on_beach)
    if b.chance(0.25):
        _horses(b, beach, on_beach, 0.0)
    for name, prob in (("bird", 0.3), ("kite", 0.25)):
        if b.chance(prob):
            _flyer(b, name)


def _indoor(b: SceneBuilder) -> None:
    floor = _background(b, "floor", sky=False)
    _, anywhere = _bands(b, b.scene.horizon)
    if b.chance(0.6):
        add_couple(b, floor, "bag", "cup", anywhere)
    furniture = []
    for _ in range(b.choice([0, 1, 2], [0.25, 0.45, 0.3])):
        box = b.find_spot("chair", "", 0.55, anywhere) if b.room(1) else None
        if box is None:
            continue
        chair = b.add("chair", box, contact=box[3], blocks=True)
        b.link(chair, floor, "on")
        group = _group(b, chair, floor, "on", 0.35)
        furniture.extend(group)
        for seat in group:
            if not use_mount(b, seat, floor, ride=0.5, lead=0.5, company=0.4) and b.chance(
                    0.3):
                _under(b, seat, floor, "cat", b.choice(["standing", "lying"]))
    if b.chance(0.6) and b.room(1):
        box = b.find_spot("table", "", 0.42, anywhere)
        if box is not None:
            table = b.add("table", box, contact=box[3], blocks=True)
            b.link(table, floor, "on")
            furniture.append(table)
            _on_table(b, table, floor)
            if b.chance(0.35):
                _under(b, table, floor, b.choice(["cat", "dog"]), "lying")
    if b.chance(0.35) and b.room(1):
        box = b.find_spot("bed", "", 0.48, anywhere)
        if box is not None:
            bed = b.add("bed", box, contact=box[3], blocks=True)
            b.link(bed, floor, "on")
            furniture.append(bed)
            _on_bed(b, bed)
    _people(b, floor, [0, 1, 2], [0.45, 0.4, 0.15], {"standing": 0.6, "walking": 0.4},
            anywhere, {"cup": 0.2, "bag": 0.1})
    for f in furniture:  # people at chairs stand at their backs (compose_groups)
        if b.objects[f].name != "chair" and b.chance(0.3):
            add_companion(b, f, floor)
    for name in ("dog", "cat"):
        if b.chance(0.2):
            pose = b.choice(["standing", "lying"])
            add_animal(b, name, pose, floor, anywhere,
                       "standing on" if pose == "standing" else "lying on")


def _on_table(b: SceneBuilder, table: int, floor: int) -> None:
    """Cups on a table, often with someone standing at it (behind or in front)."""
    cups = [add_item_on(b, "cup", table, b.objects[table].box[1])
            for _ in range(b.choice([0, 1, 2], [0.2, 0.5, 0.3]))]
    if b.chance(0.45):
        person = add_companion(b, table, floor)
        if person is not None:
            b.scene.salient.update(frozenset((person, c)) for c in cups if c is not None)


def _on_bed(b: SceneBuilder, bed: int) -> None:
    box = b.objects[bed].box
    top = b.anchor(bed, "seat")[1]
    cx = (box[0] + box[2]) / 2
    r = b.rng.random()
    if r < 0.35:
        name = pick_person(b, "lying on", "bed")
        if name is not None:
            add_lier(b, name, bed, cx, top, b.person_height(box[3]))
    elif r < 0.55:
        add_sitter(b, bed)
    elif r < 0.8:
        name = "cat" if b.chance(0.7) or not b.allowed("dog", "lying on", "bed") else "dog"
        add_lier(b, name, bed, cx + b.rng.uniform(-0.2, 0.2) * (box[2] - box[0]), top,
                 b.person_height(box[3]))
