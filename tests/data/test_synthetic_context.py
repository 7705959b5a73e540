"""Groups whose relations the rest of the scene decides: the pair's own boxes are the same in
both roles, the deciding object is placed where the pixels show it, and the links carry their
context rule."""

import numpy as np
import pytest

from maskrcnn_benchmark.data.datasets.synthetic.compose_groups import (
    add_at_handle,
    add_couple,
    use_mount,
)
from maskrcnn_benchmark.data.datasets.synthetic.compose_parts import add_vehicle
from maskrcnn_benchmark.data.datasets.synthetic.scene import SceneBuilder


def _builder(seed, ground="grass"):
    b = SceneBuilder(np.random.default_rng(seed), "park", 320, 240, 90, 0, (0.3, 0.64))
    b.add("sky", (0, 0, 319, 90), depth=-100.0, facing=1)
    g = b.add(ground, (0, 91, 319, 239), depth=-90.0, facing=1)
    return b, g


def _mount(b, ground, name, facing):
    box = {"horse": (120, 120, 205, 189), "bike": (140, 160, 203, 199),
           "chair": (150, 150, 181, 199)}[name]
    pose = "standing" if name == "horse" else ""
    idx = b.add(name, box, pose, contact=box[3], facing=facing, blocks=True)
    b.link(idx, ground, "standing on" if name == "horse" else "on")
    return idx


@pytest.mark.parametrize("name", ["horse", "bike", "chair"])
@pytest.mark.parametrize("facing", [1, -1])
def test_leader_and_companion_get_the_same_box(name, facing):
    people = {}
    for truth in ("holding", "next to"):
        b, ground = _builder(5)
        mount = _mount(b, ground, name, facing)
        person = add_at_handle(b, mount, ground, truth)
        assert person is not None
        assert (person, mount, truth) in b.scene.links
        assert b.scene.context[(person, mount)] == "leads_unless_taken"
        assert (person, ground, "standing on") in b.scene.links
        hand = b.anchor(person, "hand_front")
        handle = b.anchor(mount, "handle")
        people[truth] = (b.objects[person], hand, handle)
    (lead, hand, handle), (comp, comp_hand, _) = people["holding"], people["next to"]
    assert lead.box == comp.box and lead.contact == comp.contact
    assert lead.facing == -comp.facing
    assert abs(hand[0] - handle[0]) <= 1.0  # the leader's front hand is on the handle...
    assert abs(comp_hand[0] - handle[0]) > 0.5 * (comp.box[2] - comp.box[0])  # ...not the other's


def test_used_two_wheeler_is_on_the_street_and_a_parked_one_parked_on_it():
    outcomes = {}
    for seed in range(40):
        b, ground = _builder(seed, "street")
        bike = add_vehicle(b, "bike", ground, (180, 200), parked=True)
        if bike is None:
            continue
        used = use_mount(b, bike, ground, ride=0.4, lead=0.4, company=0.5)
        truth = next(t for s, o, t in b.scene.links if (s, o) == (bike, ground))
        handlers = [(s, t) for s, o, t in b.scene.links if o == bike and t in ("riding",
                                                                               "holding")]
        assert b.scene.context[(bike, ground)] == "parked_unless_used"
        assert truth == ("on" if used else "parked on") and len(handlers) == int(used)
        assert b.objects[bike].pose == ("" if used else "parked")
        outcomes[used] = outcomes.get(used, 0) + 1
    assert outcomes.get(True, 0) > 0 and outcomes.get(False, 0) > 0


@pytest.mark.parametrize("item, own", [("umbrella", "bag"), ("surfboard", "bag"),
                                       ("bag", "cup")])
def test_couple_is_mirror_symmetric_about_the_shared_handle(item, own):
    for seed in range(30):
        b, ground = _builder(seed)
        if add_couple(b, ground, item, own, (170, 230)):
            break
    else:
        pytest.fail("no couple fitted in 30 tries")
    shared_pairs = [p for p, name in b.scene.context.items() if name == "free_hand_holds"]
    assert len(shared_pairs) == 2 and len({o for _, o in shared_pairs}) == 1
    truth = {(s, o): t for s, o, t in b.scene.links}
    shared = shared_pairs[0][1]
    by_person = {s: truth[(s, o)] for s, o in shared_pairs}
    holder = next(s for s, t in by_person.items() if t in ("holding", "carrying"))
    partner = next(s for s in by_person if s != holder)
    assert b.objects[shared].name == item
    assert by_person[holder] == ("holding" if item == "umbrella" else "carrying")
    assert by_person[partner] == ("under" if item == "umbrella" else "next to")
    kept = next(o for (s, o), t in truth.items() if s == partner and o != shared
                and t in ("holding", "carrying"))
    assert b.objects[kept].name == own
    hb, pb = b.objects[holder].box, b.objects[partner].box
    assert hb[3] == pb[3] and hb[2] - hb[0] == pb[2] - pb[0] and hb[3] - hb[1] == pb[3] - pb[1]
    handle = b.anchor(holder, "hand_front")
    assert abs(b.anchor(partner, "hand_back")[0] - handle[0]) <= 1.5
    assert abs((hb[0] + hb[2]) / 2 + (pb[0] + pb[2]) / 2 - 2 * handle[0]) <= 2.0
    sb = b.objects[shared].box
    assert abs((sb[0] + sb[2]) / 2 - handle[0]) <= 1.5
    # the partner's own item hangs on the outer side, away from the shared one
    kb = b.objects[kept].box
    assert ((kb[0] + kb[2]) / 2 - handle[0]) * ((pb[0] + pb[2]) / 2 - handle[0]) > 0


def test_rollback_removes_objects_and_everything_about_them():
    b, ground = _builder(0)
    mark = b.checkpoint()
    horse = _mount(b, ground, "horse", 1)
    add_at_handle(b, horse, ground, "holding")
    assert len(b.objects) > mark + 1 and b.scene.context
    b.rollback(mark)
    assert len(b.objects) == mark and b.scene.context == {}
    assert all(max(s, o) < mark for s, o, _ in b.scene.links)
    assert all(i < mark for i in b.blockers)
