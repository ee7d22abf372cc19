"""The fixes benchmark (issue 30) on its digits case: the JSON keys other checks read, the guard holding the
held-out classes, and the held-out frontier agreeing with the rounds the Aligner applies."""

import pytest

from benchmarks import fixes as F
from modalchorus_widget.alignment.guard import DEFAULT_TOLERANCE

KEYS = {"target_gain", "worst_other_drop", "overall_change", "changed_outside", "alpha", "round_s"}


@pytest.fixture(scope="module")
def digits():
    return F.run_case(F.CASES["digits_stick"](), ("default", "default_guarded", "taskres"))


@pytest.mark.slow
def test_digits_case_records_every_key_and_the_guard_holds_the_held_out_classes(digits):
    for method in ("default", "default_guarded", "taskres"):
        assert KEYS <= set(digits[method]), method
    guarded = digits["default_guarded"]
    assert guarded["worst_other_drop"] <= DEFAULT_TOLERANCE
    assert guarded["target_gain"] >= 0.10  # the user's "a stick" prompt reads its misread images again
    assert 0.0 <= guarded["alpha"] <= 1.0 and guarded["round_s"] < 5.0


@pytest.mark.slow
def test_frontier_reads_the_round_that_the_aligner_applies_at_each_strength(digits):
    """Strength 0 is the map before the round; the frontier's point at the guard's alpha is the guarded round's
    held-out figure, and at alpha 1 the unguarded round's: the interpolation it reads is the one the guard
    applies. Its best point within the tolerance is within the tolerance."""
    fr = digits["frontier"]["default"]
    assert set(digits["frontier"]) == {"default"}  # the digits case has no tuned settings
    first = fr["curve"][0]
    assert first["alpha"] == 0.0 and first["target_gain"] == 0.0 and first["worst_other_drop"] == 0.0
    by_alpha = {p["alpha"]: p for p in fr["curve"]}
    assert digits["default"]["alpha"] == 1.0
    on_grid = [m for m in ("default", "default_guarded") if digits[m]["alpha"] in by_alpha]
    assert "default" in on_grid
    for method in on_grid:
        row, point = digits[method], by_alpha[digits[method]["alpha"]]
        assert point["target_gain"] == pytest.approx(row["target_gain"], abs=1e-4), method
        assert point["worst_other_drop"] == pytest.approx(row["worst_other_drop"], abs=1e-4), method
    best = fr["best_within_tolerance"]
    assert by_alpha[best["alpha"]]["worst_other_drop"] <= DEFAULT_TOLERANCE
    assert best["target_gain"] == max(
        p["target_gain"] for p in fr["curve"] if p["worst_other_drop"] <= DEFAULT_TOLERANCE
    )
