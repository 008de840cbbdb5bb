"""`bench --check`: the targets judged from measured times, and the exit code.

The bench itself times full epochs of 60,000 images (minutes), so these tests pass the
figures it printed on this project's machine (README and docs/cnn.md) to the
target-evaluation code that `bench` and `bench --cnn` both run.
"""

from __future__ import annotations

import argparse

import pytest

from compare import bench_cnn
from compare.bench_targets import Target, evaluate, exit_code
from compare.commands import bench

# `mnist-compare bench`, 2026-11-29, AMD EPYC, 2 cores, shared host (README, "Speed").
MLP_SECONDS = {
    "GEMMs only (ideal), batch 128": 0.390,
    "scratch Network.fit, batch 128": 0.572,
    "keras model.fit, batch 128": 2.567,
    "GEMMs only (ideal), batch 32": 0.388,
    "scratch Network.fit, batch 32": 0.770,
    "keras model.fit, batch 32": 7.154,
}


def _verdicts(outcomes) -> dict[str, bool | None]:
    return {outcome.target.label: outcome.met for outcome in outcomes}


def test_the_mlp_targets_judge_the_measured_figures(capsys):
    outcomes = bench.print_ratios(MLP_SECONDS)
    assert _verdicts(outcomes) == {
        "scratch / ideal, batch 128": False,  # 1.47 > 1.3
        "scratch / ideal, batch 32": None,  # for information
        "keras / scratch, batch 32": True,  # 9.29 >= 4
        "keras / scratch, batch 128": True,  # 4.49 >= 2.5
    }
    # from the printed (rounded) times
    assert [round(o.ratio, 2) for o in outcomes] == [1.47, 1.98, 9.29, 4.49]
    printed = capsys.readouterr().out
    assert "1.47  <= 1.3  NOT met" in printed and "(for information)" in printed
    assert exit_code(outcomes, check=False) == 0  # plain bench only informs
    assert exit_code(outcomes, check=True) == 1
    assert "target not met: scratch / ideal, batch 128" in capsys.readouterr().out


def test_check_passes_when_every_measured_target_is_met(capsys):
    quiet_host = {**MLP_SECONDS, "scratch Network.fit, batch 128": 0.49}  # 1.26x the GEMMs
    assert exit_code(bench.print_ratios(quiet_host), check=True) == 0
    assert "every measured target met" in capsys.readouterr().out


def test_without_keras_its_targets_are_left_out_not_failed():
    no_keras = {name: s for name, s in MLP_SECONDS.items() if not name.startswith("keras")}
    quiet = {**no_keras, "scratch Network.fit, batch 128": 0.49}
    outcomes = evaluate(bench.TARGETS, quiet)
    assert [o.target.label for o in outcomes] == [
        "scratch / ideal, batch 128",
        "scratch / ideal, batch 32",
    ]
    assert exit_code(outcomes, check=True) == 0


@pytest.mark.parametrize(
    ("seconds", "code"),
    [
        # docs/cnn.md, 2026-11-29, quiet host: scratch / ideal 2.02 misses its 2.0.
        ({"ideal": 23.52, "scratch": 47.50, "keras": 43.78}, 1),
        # the same scratch and Keras times against a slower ideal: both targets met.
        ({"ideal": 25.0, "scratch": 47.50, "keras": 43.78}, 0),
        # scratch 1.58x Keras: the 1.5 target is missed.
        ({"ideal": 30.0, "scratch": 47.50, "keras": 30.0}, 1),
        # without Keras only scratch / ideal is judged.
        ({"ideal": 25.0, "scratch": 47.50}, 0),
    ],
)
def test_the_cnn_targets(seconds, code, capsys):
    assert exit_code(evaluate(bench_cnn.TARGETS, seconds), check=True) == code


def test_limits_are_inclusive():
    at_limit = evaluate([Target("t", "a", "b", "<=", 1.3)], {"a": 1.3, "b": 1.0})
    above = evaluate([Target("t", "a", "b", ">=", 4.0)], {"a": 3.99, "b": 1.0})
    assert at_limit[0].met is True and above[0].met is False


def test_check_reaches_the_child_that_sets_the_blas_threads():
    args = argparse.Namespace(
        repeats=3, blas_threads=1, no_keras=True, breakdown=False, check=True, data_dir="d"
    )
    argv = bench.child_argv(args)
    assert argv[argv.index("--repeats") + 1] == "3" and "--check" in argv
    assert argv[-2:] == ["--data-dir", "d"] and "--breakdown" not in argv
    parsed = argparse.ArgumentParser()
    bench.configure(parsed)
    again = parsed.parse_args(argv[argv.index("bench") + 1 :])
    assert (again.check, again.no_keras, again.repeats, again.data_dir) == (True, True, 3, "d")
