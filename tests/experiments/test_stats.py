"""experiments.stats: the paired t test of the results tables."""

import math

import pytest

from experiments.stats import paired_test, student_t_two_sided_p


@pytest.mark.parametrize("t, dof, p", [
    (2.228138851986, 10, 0.05),     # the textbook 5% critical value of t(10)
    (2.570581835636, 5, 0.05),
    (1.0, 1, 0.5),                  # Cauchy: P(|T| >= 1) = 1/2
    (3.169272672617, 10, 0.01),
    (0.0, 7, 1.0),
])
def test_two_sided_p_matches_tabulated_values(t, dof, p):
    assert student_t_two_sided_p(t, dof) == pytest.approx(p, abs=1e-9)
    assert student_t_two_sided_p(-t, dof) == pytest.approx(p, abs=1e-9)


def test_large_dof_approaches_the_normal():
    normal = math.erfc(1.959963984540 / math.sqrt(2))
    assert student_t_two_sided_p(1.959963984540, 100000) == pytest.approx(normal, abs=1e-5)


def test_paired_test_hand_values():
    result = paired_test([1.0, 2.0, 3.0])
    assert result.mean == 2.0 and result.stderr == pytest.approx(1 / math.sqrt(3))
    assert result.t == pytest.approx(2 * math.sqrt(3))
    assert result.p == pytest.approx(student_t_two_sided_p(2 * math.sqrt(3), 2))
    assert paired_test([0.5]).t is None and paired_test([1.0, 1.0]).p is None
    with pytest.raises(ValueError, match="no paired differences"):
        paired_test([])
