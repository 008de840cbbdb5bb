"""The benchmark's building blocks (the full benchmark itself is too slow for the suite)."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import numpy as np
import pytest

from compare.commands import bench
from scratch.config import ModelConfig


def test_epoch_batch_sizes_cover_every_image_once():
    sizes = bench.batch_sizes_of_epoch(55000, 128)
    assert sum(sizes) == 55000 and sizes[-1] == 55000 % 128 and len(sizes) == 430
    assert bench.batch_sizes_of_epoch(64, 32) == [32, 32]


def test_interleaved_best_keeps_each_minimum(monkeypatch):
    calls = []
    scripted = {"a": [3.0, 1.0, 2.0], "b": [0.5, 4.0, 0.7]}

    def fake_best_time(action, repeats):
        name = action()
        return scripted[name].pop(0)

    monkeypatch.setattr(bench, "best_time", fake_best_time)
    result = bench.interleaved_best(
        {"a": lambda: calls.append("a") or "a", "b": lambda: calls.append("b") or "b"}, 3
    )
    assert calls == ["a", "b"] * 3  # timed in turns
    assert result == {"a": 1.0, "b": 0.5}  # each action's own minimum


def test_ideal_epoch_runs_the_five_gemms_per_batch(monkeypatch):
    config = ModelConfig(input_size=16, hidden_sizes=(8,), output_size=4)
    shapes = []
    real_matmul = np.matmul

    def counting_matmul(a, b, out=None):
        shapes.append((a.shape, b.shape))
        return real_matmul(a, b, out=out)

    monkeypatch.setattr(bench.np, "matmul", counting_matmul)
    bench.ideal_epoch([5, 5, 3], config)()
    assert len(shapes) == 5 * 3
    assert shapes[:5] == [((5, 16), (16, 8)), ((5, 8), (8, 4)), ((8, 5), (5, 4)),
                          ((5, 4), (4, 8)), ((16, 5), (5, 8))]  # fmt: skip
    assert shapes[-5][0] == (3, 16)  # the last, smaller batch


def test_ratios_say_whether_targets_are_met(capsys):
    rows = {
        "GEMMs only (ideal), batch 128": 1.0,
        "scratch Network.fit, batch 128": 1.2,
        "keras model.fit, batch 128": 2.0,
        "GEMMs only (ideal), batch 32": 1.0,
        "scratch Network.fit, batch 32": 1.5,
        "keras model.fit, batch 32": 9.0,
    }
    bench.print_ratios(rows)
    lines = {line.split("  ")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert (
        "1.20" in lines["scratch / ideal, batch 128"]
        and " met" in lines["scratch / ideal, batch 128"]
    )
    assert (
        "6.00" in lines["keras / scratch, batch 32"]
        and " met" in lines["keras / scratch, batch 32"]
    )
    assert "NOT met" in lines["keras / scratch, batch 128"]  # 1.67 < 2.5


def test_no_rerun_when_blas_threads_already_set(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    args = argparse.Namespace(blas_threads=1, repeats=1, no_keras=True, data_dir=None)
    assert bench.rerun_with_blas_threads(args) is None
    args.blas_threads = 0  # leave OpenBLAS alone
    assert bench.rerun_with_blas_threads(args) is None


def test_breakdown_loops_each_leave_out_one_part(monkeypatch, capsys):
    """Each loop really does what its difference is charged to: the cached-batch loop
    steps without gathering, the backprop loop neither steps nor gathers."""
    from scratch import training
    from scratch.network import Network

    calls = {"gather": 0, "step": 0, "backprop": 0}

    def counting(name, original):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(training, "gather", counting("gather", training.gather))
    monkeypatch.setattr(Network, "_train_step", counting("step", Network._train_step))
    monkeypatch.setattr(Network, "backward", counting("backprop", Network.backward))
    rng = np.random.default_rng(0)
    splits = SimpleNamespace(
        x_train=rng.random((300, 784)).astype(np.float32), y_train=rng.integers(0, 10, 300)
    )
    loops = bench.breakdown_epochs(splits, 64)  # 5 batches an epoch
    expected = {"fit": (5, 5, 5), "steps": (0, 5, 5), "backprop": (0, 0, 5), "ideal": (0, 0, 0)}
    for name, (gathers, steps, backprops) in expected.items():
        calls.update(gather=0, step=0, backprop=0)
        loops[name]()
        assert (calls["gather"], calls["step"], calls["backprop"]) == (gathers, steps, backprops)
    bench.print_breakdown(splits, repeats=1, batch_size=64)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("where a batch-64 step's time goes")
    assert [line.split("  ")[1].strip() for line in lines[1:6]] == [
        "GEMMs (the ideal)",
        "bias, activations, softmax/loss/dZ, bias grads",
        "optimizer update, checks, step bookkeeping",
        "gathering the shuffled batch, fit's loop",
        "Network.fit, whole step",
    ]


def test_bad_repeats_is_a_one_line_error(capsys):
    from compare.cli import main

    with pytest.raises(SystemExit) as stopped:  # a usage error, before any data is read
        main(["bench", "--repeats", "0", "--no-keras"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "mnist-compare: error: --repeats must be a whole number >= 1, got 0 "
        "(see mnist-compare bench --help)"
    )


def test_interleaved_times_keeps_every_timing_in_turns():
    calls = []
    times = bench.interleaved_times(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 4
    )
    assert calls == ["a", "b"] * 4
    assert {name: len(values) for name, values in times.items()} == {"a": 4, "b": 4}


def test_cnn_bench_pieces_run_on_a_small_set():
    """The --cnn measurements' epoch functions, on 300 synthetic images (the real command
    times 60,000; it is a documented command, not a test)."""
    from compare import bench_cnn
    from compare.presets import preset_layer
    from compare.runconfig import resolve

    config = resolve(preset_layer("convnet")).model
    rng = np.random.default_rng(0)
    x = rng.random((300, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    for name in ("ideal", "scratch"):
        epoch = bench_cnn.EPOCHS[name](config, x, y)
        assert bench_cnn._seconds(epoch) > 0
