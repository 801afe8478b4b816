"""scripts/mutate.py's verdict per module: the goal, and a run that tested nothing is a failure."""

from scripts.mutate import GOAL, verdict


def test_a_rate_at_the_goal_passes_and_one_below_fails():
    assert GOAL == 0.90  # issue 15's goal
    assert verdict(90, 100) == (0.9, "")
    rate, problem = verdict(89, 100)
    assert rate == 0.89 and problem == f"  below {GOAL:.0%}"


def test_no_mutant_tested_is_a_failure_not_a_perfect_score():
    rate, problem = verdict(0, 0)
    assert rate == 0.0
    assert "no mutant was tested" in problem
