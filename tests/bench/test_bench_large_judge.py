"""The camera-sized judge benchmark's own logic (bench/bench_large_judge.py): the policy it is
told to compare, and its table."""
import pytest

from bench import bench_large_judge as bench


def test_policy_keyword_arguments_are_python_literals():
    assert bench.policy_kwargs("plan_side=None") == {"plan_side": None}
    assert bench.policy_kwargs(" carve_density = 0.5, working_oversample=None ,") == \
        {"carve_density": 0.5, "working_oversample": None}
    assert bench.policy_kwargs("") == {}
    with pytest.raises(ValueError):
        bench.policy_kwargs("plan_side=big")


def test_report_pairs_the_settings_per_target_and_overall():
    def row(kl, stretch, digest):
        return dict(KL=kl, kept=0.9, stretch=stretch, coverage=0.8, seconds=2.0, digest=digest)

    rows = [("a.jpeg", "640x640", "default", row(0.2, 1.04, "x")),
            ("a.jpeg", "640x640", "plan_side=None", row(0.4, 1.06, "y")),
            ("b.jpeg", "640x640", "default", row(0.3, 1.05, "z")),
            ("b.jpeg", "640x640", "plan_side=None", row(0.3, 1.05, "z"))]
    lines = bench.report(rows, ["default", "plan_side=None"]).splitlines()
    assert len(lines) == 4  # header, rule, the target, all
    assert lines[2] == ("| 640x640 | 1/2 | 0.250; 0.350 | 0.900; 0.900 | 1.045 (1.050); "
                        "1.055 (1.060) | 0.800; 0.800 | 2.0; 2.0 |")
    assert lines[3].startswith("| all | 1/2 | 0.250; 0.350 |")
