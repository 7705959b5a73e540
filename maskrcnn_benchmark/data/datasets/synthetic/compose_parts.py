"""Reusable pieces of scenes: dressed people in a pose, riders, sitters, vehicles with wheels,
buildings with windows, trees, held items and companions standing right behind or in front of
something. Each returns the index of its main object, or None when it does not fit. Groups
whose relations decide each other (riders and leaders, people sharing an umbrella) are in
compose_groups.py.
"""

from __future__ import annotations

from .scene import MIN_SIDE, SceneBuilder
from .shape_table import get_shape
from .vocabulary import PERSON

__all__ = ["POSE_HEIGHT", "pick_person", "add_person", "place_person", "add_rider",
           "add_sitter", "add_lier", "add_vehicle", "add_building", "add_tree", "add_held",
           "add_companion", "add_animal", "add_sibling", "add_item_on", "HELD_ITEMS"]

# Box height of each person pose, in standing-person heights.
POSE_HEIGHT = {"standing": 1.0, "walking": 0.97, "sitting": 0.72, "lying": 0.22,
               "riding": 0.75, "wading": 0.6}
# Hand-held items: drawing pose, height in standing-person heights, the point of the item that
# lies in the hand (box-normalised).
HELD_ITEMS = {"umbrella": ("held", 0.75, (0.5, 0.9)), "cup": ("", 0.15, (0.5, 0.5)),
              "bag": ("", 0.24, (0.5, 0.12)), "surfboard": ("upright", 0.95, (0.5, 0.45))}
VEHICLE_HEIGHT = {"car": 0.55, "bus": 0.95, "bike": 0.58, "motorcycle": 0.6, "boat": 0.5}
ANIMAL_HEIGHT = {("dog", "standing"): 0.36, ("dog", "lying"): 0.24, ("cat", "standing"): 0.28,
                 ("cat", "lying"): 0.2, ("horse", "standing"): 1.1, ("bird", "perched"): 0.2}


def pick_person(b: SceneBuilder, truth: str, obj: str) -> str | None:
    """A person class allowed to have ``truth`` with ``obj`` in this split (zero-shot rule)."""
    options = [p for p in PERSON if b.allowed(p, truth, obj)]
    return b.choice(options) if options else None


def _dress(b: SceneBuilder, idx: int, helmet: bool) -> None:
    """Garments of person ``idx``: each one a worn object lying on its body region."""
    person = b.objects[idx]
    regions = get_shape(person.name, person.pose).regions
    items = []
    if "shirt" in regions and b.chance(0.5):
        items.append("shirt")
    if "pants" in regions and b.chance(0.35):
        items.append("pants")
    if "hat" in regions and (b.chance(0.75) if helmet else b.chance(0.22)):
        items.append("helmet" if helmet else "hat")
    for k, item in enumerate(items):
        box = b.region_box(idx, regions["hat" if item == "helmet" else item])
        if not b.room(1) or box[2] - box[0] + 1 < 18 or box[3] - box[1] + 1 < 10:
            continue
        pose = person.pose if item in ("shirt", "pants") else ""
        worn = b.add(item, box, pose, depth=person.depth + 0.01 * (k + 1), facing=person.facing)
        b.link(idx, worn, "wearing")


def add_person(b: SceneBuilder, name: str, pose: str, cx: float, bottom: float, height: float,
               facing: int | None = None, depth: float | None = None, grounded: bool = True,
               helmet: bool = False) -> int | None:
    """A dressed person ``height`` standing-person pixels tall whose box ends on ``bottom``."""
    if not b.room(1):
        return None
    w, h = b.size(name, pose, POSE_HEIGHT[pose] * height)
    box = b.box_at(cx, bottom, w, h)
    if not b.inside(box):
        return None
    idx = b.add(name, box, pose, depth=depth, contact=box[3] if grounded else None,
                facing=facing, blocks=grounded)
    _dress(b, idx, helmet)
    return idx


def place_person(b: SceneBuilder, ground: int, pose: str, y_range: tuple[float, float],
                 max_overlap: float = 0.3) -> int | None:
    """A standing / walking / lying person on ``ground`` with its support link."""
    truth = {"standing": "standing on", "walking": "walking on", "lying": "lying on"}[pose]
    name = pick_person(b, truth, b.objects[ground].name)
    if name is None or not b.room(1):
        return None
    box = b.find_spot(name, pose, POSE_HEIGHT[pose], y_range, max_overlap=max_overlap)
    if box is None:
        return None
    height = b.person_height(box[3])
    idx = add_person(b, name, pose, (box[0] + box[2]) / 2, box[3], height)
    if idx is not None:
        b.link(idx, ground, truth)
    return idx


def add_rider(b: SceneBuilder, mount: int) -> int | None:
    """A person riding ``mount`` (astride a horse or bike, standing on a surfboard)."""
    m = b.objects[mount]
    name = pick_person(b, "riding", m.name)
    if name is None or m.contact is None:
        return None
    height = b.person_height(m.contact)
    if m.name == "surfboard":
        bottom = m.box[1] + 2
        idx = add_person(b, name, "standing", (m.box[0] + m.box[2]) / 2, bottom, height * 0.9,
                         facing=m.facing, depth=m.depth + 0.5, grounded=False)
        if idx is not None:
            b.objects[idx].contact = m.contact
    else:
        if not b.room(1):
            return None
        seat = b.anchor(mount, "seat")
        if m.name == "horse":  # anywhere along the back
            seat = (seat[0] + b.rng.uniform(-0.15, 0.15) * (m.box[2] - m.box[0]), seat[1])
        box = b.attach_box(name, "riding", POSE_HEIGHT["riding"] * height, seat,
                           get_shape(name, "riding").anchors["seat"], m.facing)
        if not b.inside(box):
            return None
        idx = b.add(name, box, "riding", depth=m.depth + 0.5, contact=m.contact, facing=m.facing)
        _dress(b, idx, helmet=m.name in ("bike", "motorcycle"))
    if idx is not None:
        b.link(idx, mount, "riding")
    return idx


def add_sitter(b: SceneBuilder, seat: int) -> int | None:
    """A person sitting on ``seat`` (chair, bench or bed)."""
    s = b.objects[seat]
    name = pick_person(b, "sitting on", s.name)
    if name is None or not b.room(1):
        return None
    facing = s.facing if s.name == "chair" else (1 if b.chance(0.5) else -1)
    height = POSE_HEIGHT["sitting"] * b.person_height(s.box[3])
    anchor = b.anchor(seat, "seat")
    if s.name != "chair":
        anchor = (b.rng.uniform(s.box[0] + 0.3 * (s.box[2] - s.box[0]),
                                s.box[2] - 0.3 * (s.box[2] - s.box[0])), anchor[1])
    box = b.attach_box(name, "sitting", height, anchor, get_shape(name, "sitting").anchors["seat"],
                       facing)
    if not b.inside(box):
        return None
    idx = b.add(name, box, "sitting", depth=s.depth + 0.3, contact=s.contact, facing=facing)
    _dress(b, idx, helmet=False)
    b.link(idx, seat, "sitting on")
    return idx


def add_lier(b: SceneBuilder, name: str, surface: int, cx: float, top: float,
             height: float, ignore: tuple[int, ...] = ()) -> int | None:
    """``name`` (person, dog or cat) lying with its underside on row ``top`` of ``surface``.

    On the ground it must not overlap anything but ``ignore`` (e.g. the umbrella above it).
    """
    if not b.room(1):
        return None
    pose = "lying"
    rel = POSE_HEIGHT["lying"] if name in PERSON else ANIMAL_HEIGHT[(name, "lying")]
    w, h = b.size(name, pose, rel * height)
    box = b.box_at(cx, top + 2, w, h)
    on_furniture = b.objects[surface].name in ("bed", "bench")
    if not b.inside(box) or min(w, h) < MIN_SIDE * 0.9 or not (
            on_furniture or b.free(box, ignore=ignore, flat=True)):
        return None
    depth = b.objects[surface].depth + 0.3 if on_furniture else None
    contact = b.objects[surface].contact if on_furniture else box[3]
    idx = b.add(name, box, pose, depth=depth, contact=contact, blocks=not on_furniture)
    if name in PERSON:
        _dress(b, idx, helmet=False)
    b.link(idx, surface, "lying on")
    return idx


def add_animal(b: SceneBuilder, name: str, pose: str, ground: int | None,
               y_range: tuple[float, float], truth: str = "standing on") -> int | None:
    """A dog / cat / horse / perched bird on ``ground`` (or at a spot in ``y_range``)."""
    if not b.room(1) or (ground is not None and not b.allowed(name, truth,
                                                             b.objects[ground].name)):
        return None
    box = b.find_spot(name, pose, ANIMAL_HEIGHT[(name, pose)], y_range)
    if box is None:
        return None
    idx = b.add(name, box, pose, contact=box[3], blocks=True)
    if ground is not None:
        b.link(idx, ground, truth)
    return idx


def add_vehicle(b: SceneBuilder, name: str, ground: int, y_range: tuple[float, float],
                parked: bool) -> int | None:
    """A car / bus (with its two wheels as parts) or a bike / motorcycle on ``ground``."""
    wheels = name in ("car", "bus")
    if not b.room(3 if wheels else 1):
        return None
    box = b.find_spot(name, "", VEHICLE_HEIGHT[name], y_range)
    if box is None:
        return None
    idx = b.add(name, box, "parked" if parked else "", contact=box[3], blocks=True)
    if wheels:
        regions = get_shape(name, "").regions
        for key in ("wheel0", "wheel1"):
            wheel = b.add("wheel", b.region_box(idx, regions[key]), depth=b.objects[idx].depth
                          + 0.01, facing=1)
            b.link(wheel, idx, "part of")
    context = "parked_unless_used" if name in ("bike", "motorcycle") else ""
    b.link(idx, ground, "parked on" if parked else "on", context)
    return idx


def add_building(b: SceneBuilder, bottom: float) -> int | None:
    """A building standing on the horizon with a grid of 1-4 windows (every window a part)."""
    base = b.person_height(bottom)
    h = b.rng.uniform(1.5, 2.4) * base
    w = h * b.rng.uniform(0.7, 1.2)
    if bottom - h < 2 or not b.room(2):
        return None
    for _ in range(10):
        box = b.box_at(b.rng.uniform(w / 2 + 1, b.scene.width - w / 2 - 1), bottom, w, h)
        others = [b.objects[i].box for i in range(len(b.objects)) if b.objects[i].name ==
                  "building"]
        if b.inside(box) and all(_disjoint(box, o) for o in others):
            break
    else:
        return None
    idx = b.add("building", box, depth=bottom - 0.5, contact=box[3])
    bw, bh = box[2] - box[0] + 1, box[3] - box[1] + 1
    cols = (0.5,) if bw < 70 else (0.28, 0.72)
    rows = (0.3,) if bh < 90 else (0.26, 0.56)
    ww, wh = max(0.26 * bw, 16), max(0.19 * bh, 18)
    for v in rows:
        for u in cols:
            if not b.room(1):
                break
            cx, cy = box[0] + u * bw, box[1] + v * bh
            wbox = b.box_at(cx, cy + wh / 2, ww, wh)
            window = b.add("window", wbox, depth=b.objects[idx].depth + 0.01, facing=1)
            b.link(window, idx, "part of")
    return idx


def _disjoint(a: tuple[int, ...], c: tuple[int, ...]) -> bool:
    return a[2] < c[0] or c[2] < a[0]


def add_tree(b: SceneBuilder, ground: int, y_range: tuple[float, float],
             link_ground: bool) -> int | None:
    """A tree (optionally linked "on" its ground), sometimes with a bird in its crown."""
    if not b.room(1):
        return None
    box = b.find_spot("tree", "", 1.9, y_range, max_overlap=0.2)
    if box is None:
        return None
    idx = b.add("tree", box, contact=box[3], blocks=True)
    if link_ground:
        b.link(idx, ground, "on")
    if b.chance(0.3) and b.room(1):
        size = max(MIN_SIDE + 2, 0.2 * b.person_height(box[3]))
        tw = box[2] - box[0]
        cx = b.rng.uniform(box[0] + 0.25 * tw, box[2] - 0.25 * tw)
        bird_box = b.box_at(cx, box[1] + 0.42 * (box[3] - box[1]), size, size)
        if b.inside(bird_box):
            bird = b.add("bird", bird_box, "perched", depth=b.objects[idx].depth + 0.1)
            b.link(bird, idx, "in")
    return idx


def add_held(b: SceneBuilder, person: int, item: str, hand: str = "") -> int | None:
    """An umbrella / cup held or a bag / surfboard carried by a standing or walking person, in
    ``hand`` ("hand_front" or "hand_back"; by default the front hand holds, the back carries)."""
    p = b.objects[person]
    truth = "holding" if item in ("umbrella", "cup") else "carrying"
    if not b.room(1) or not b.allowed(p.name, truth, item):
        return None
    height = (p.box[3] - p.box[1] + 1) / POSE_HEIGHT[p.pose]
    hand = hand or ("hand_front" if truth == "holding" else "hand_back")
    pose, rel, at = HELD_ITEMS[item]
    box = b.attach_box(item, pose, rel * height, b.anchor(person, hand), at, p.facing)
    if not b.inside(box) or min(box[2] - box[0], box[3] - box[1]) < MIN_SIDE - 1:
        return None
    offset = -0.05 if item == "surfboard" else 0.05
    idx = b.add(item, box, pose, depth=p.depth + offset, facing=p.facing)
    b.link(person, idx, truth)
    return idx


def add_sibling(b: SceneBuilder, target: int, ground: int, truth: str,
                context: str = "") -> int | None:
    """Another ``target``-class object beside it at the same depth, overlapping it on screen
    (horses in a group, bikes or chairs in a row), linked to ``ground`` with ``truth`` (and
    ``context``, the link's context rule)."""
    t = b.objects[target]
    if t.contact is None or not b.room(1):
        return None
    band = b.scene.height - 1 - b.scene.horizon
    w, h = t.box[2] - t.box[0] + 1, t.box[3] - t.box[1] + 1
    for _ in range(6):
        shift = b.rng.uniform(0.35, 0.65) * w * (1 if b.chance(0.5) else -1)
        y = t.contact + b.rng.uniform(-0.03, 0.03) * band
        box = b.box_at((t.box[0] + t.box[2]) / 2 + shift, y, w, h)
        if b.inside(box) and b.free(box, 0.3, ignore=(target,)):
            idx = b.add(t.name, box, t.pose, contact=box[3], blocks=True)
            b.link(idx, ground, truth, context)
            return idx
    return None


def add_item_on(b: SceneBuilder, item: str, furniture: int, surface: float,
                near: int | None = None) -> int | None:
    """A cup / bag resting "on" ``furniture`` with its bottom on row ``surface``; next to
    person ``near`` (overlapping its box a little, a salient pair) when given."""
    f = b.objects[furniture]
    height = {"cup": 0.15, "bag": 0.24}[item] * b.person_height(f.box[3])
    w = height * get_shape(item, "").aspect
    if not b.room(1) or min(w, height) < MIN_SIDE:
        return None
    lo, hi = f.box[0] + w / 2 + 1, f.box[2] - w / 2 - 1
    if near is not None:
        p = b.objects[near].box
        side = 1 if b.chance(0.5) else -1
        edge = p[2] if side > 0 else p[0]
        lo = hi = edge + side * b.rng.uniform(0.0, 0.45) * w
    if lo > hi or not f.box[0] + w / 2 <= lo <= f.box[2] - w / 2:
        return None
    box = b.box_at(b.rng.uniform(lo, hi), surface + 2, w, height)
    if any(o.name == item and box[0] <= o.box[2] and o.box[0] <= box[2] for o in b.objects):
        return None
    idx = b.add(item, box, depth=f.depth + 0.2, contact=f.contact)
    b.link(idx, furniture, "on")
    if near is not None:
        b.scene.salient.add(frozenset((idx, near)))
    return idx


def add_companion(b: SceneBuilder, target: int, ground: int) -> int | None:
    """A standing person right behind or in front of ``target``, overlapping it on screen."""
    t = b.objects[target]
    name = pick_person(b, "standing on", b.objects[ground].name)
    if name is None or t.contact is None or not b.room(1):
        return None
    band = b.scene.height - 1 - b.scene.horizon
    for _ in range(10):
        dy = (b.rng.uniform(0.12, 0.22) if b.chance(0.4) else -b.rng.uniform(0.12, 0.45)) * band
        y = t.contact + dy
        if not b.scene.horizon + 4 < y < b.scene.height - 1:
            continue
        tw = t.box[2] - t.box[0]
        cx = (t.box[0] + t.box[2]) / 2 + b.rng.uniform(-0.3, 0.3) * tw
        height = b.person_height(y)
        w, h = b.size(name, "standing", height)
        box = b.box_at(cx, y, w, h)
        if b.inside(box) and b.free(box, 0.3, ignore=(target,)) and min(w, h) >= MIN_SIDE:
            idx = add_person(b, name, "standing", cx, y, height)
            if idx is not None:
                b.link(idx, ground, "standing on")
                b.scene.salient.add(frozenset((idx, target)))
            return idx
    return None
