"""Issue 16, tracebacks: hostile input is one line on stderr with exit code 2, before
any data is loaded (the data folder given here does not exist, so a check that came
too late would fail on the data instead)."""

from __future__ import annotations

import os

import pytest

from compare.cli import main


def run_cli(argv, tmp_path, capsys):
    base = ["run", "--data-dir", str(tmp_path / "nowhere"), "--quiet"]
    if "--out" not in argv:
        base += ["--out", str(tmp_path / "out")]
    code = main([*base, *argv])
    return code, capsys.readouterr().err


def one_line(code: int, err: str, message: str) -> None:
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", str(2**32)], "every seed must be below 2**32"),
        (["--seed", str(2**32 - 1), "--seeds", "2"], "reaches 4294967296"),
        (["--lr", "1e308"], "--lr = 1e+308 does not fit float32"),
        (["--l2", "1e39"], "--l2 = 1e+39 does not fit float32"),
        (["--momentum", "nan"], "--momentum must be a finite number, got nan"),
        (["--lr", "inf"], "--lr must be a finite number, got inf"),
        (["--lr-decay", "1e300"], "does not fit float32"),
        (["--hidden", "100000,100000"], "pass --force to try anyway"),
        (["--out", ""], "--out is empty"),
    ],
)
def test_bad_values_are_one_line_before_any_data(argv, message, tmp_path, capsys):
    one_line(*run_cli(argv, tmp_path, capsys), message)
    assert not (tmp_path / "out").exists()


def test_a_huge_float64_learning_rate_is_refused_too(tmp_path, capsys):
    code, err = run_cli(["--lr", "1e308", "--dtype", "float64", "--l2", "1e309"], tmp_path, capsys)
    one_line(code, err, "finite")


@pytest.mark.parametrize(
    "toml",
    [
        '[model]\noptimizer = ["sgd"]',
        "[model]\noptimizer = {a = 1}",
        '[model]\nactivation = ["relu"]',
        "[model]\nloss = 1",
        "[model]\ninit = {a = 1}",
        '[model]\ndtype = ["float32"]',
        "mode = 3",
        'mode = ["lockstep"]',
    ],
)
def test_toml_values_of_the_wrong_kind_are_one_line(toml, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n")
    one_line(*run_cli(["--config", str(path)], tmp_path, capsys), "must be a string")


def test_an_endless_config_file_is_read_only_so_far(tmp_path, capsys):
    one_line(*run_cli(["--config", "/dev/zero"], tmp_path, capsys), "larger than 1024 KiB")


def test_out_names_too_long_for_the_backup_names(tmp_path, capsys):
    out = tmp_path / ("x" * 250)
    one_line(*run_cli(["--out", str(out)], tmp_path, capsys), "so the backup names beside it fit")


def test_out_dot_is_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    one_line(*run_cli(["--out", "."], tmp_path, capsys), f"run folder {tmp_path} already exists")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_symlink_to_a_run_resolves_to_the_run(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    (real / "summary.json").write_text("{}")
    link = tmp_path / "link"
    link.symlink_to(real)
    code, err = run_cli(["--out", str(link), "--overwrite"], tmp_path, capsys)
    assert code == 2 and "does not exist" in err  # the data; the old run is back in place
    assert link.is_symlink() and (real / "summary.json").read_text() == "{}"


def test_check_refuses_a_64_bit_seed(capsys):
    assert main(["check", "--seed", str(2**32)]) == 2
    assert "every seed must be below 2**32" in capsys.readouterr().err


def test_blas_threads_above_the_cores_and_lockstep_alone_are_stated(tmp_path, capsys):
    argv = ["--blas-threads", str((os.cpu_count() or 1) + 5), "--models", "scratch"]
    argv += ["--mode", "lockstep"]
    code, err = run_cli(argv, tmp_path, capsys)
    assert code == 2 and "capped at the" in err and "lockstep needs two or more models" in err


def test_a_gzip_bomb_is_refused_after_reading_just_past_its_header(tmp_path):
    import gzip
    import resource
    import time

    from compare.idx import IdxError, read_bytes

    header = bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(header + bytes(7840))
        for _ in range(512):  # 512 MiB of zeros after the 7,840 bytes the header declares
            handle.write(bytes(1 << 20))
    assert path.stat().st_size < 1 << 20
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    with pytest.raises(IdxError, match="decompresses to more than the 7856 bytes"):
        read_bytes(path)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_idx_dimensions_past_int64_are_one_line(tmp_path):
    from compare.idx import IdxError, read_idx

    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + (0xFFFFFFFF).to_bytes(4, "big") * 3)
    with pytest.raises(IdxError, match="declares .* data bytes; not an MNIST file"):
        read_idx(path)
