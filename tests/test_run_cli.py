"""`mnist-compare run` bad input: one line on stderr, exit code 2, before any training."""

from __future__ import annotations

import pytest

from compare.cli import main


def run_cli(argv, capsys):
    """Exit code and stderr of `mnist-compare run ...` (argparse errors exit via SystemExit)."""
    try:
        code = main(["run", *argv])
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


BAD_FLAGS = [
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--lr", "0"], "--lr must be a number > 0"),
    (["--lr", "-0.5"], "--lr must be a number > 0"),
    (["--lr", "fast"], "invalid float value"),
    (["--batch-size", "0"], "--batch-size must be"),
    (["--epochs", "0"], "epochs"),
    (["--epochs", "2.5"], "invalid int value"),
    (["--hidden", "128,abc"], "--hidden"),
    (["--hidden", "0"], "--hidden"),
    (["--optimizer", "rmsprop"], "unknown optimizer"),
    (["--activation", "gelu"], "unknown activation"),
    (["--loss", "hinge"], "unknown loss"),
    (["--init", "zeros"], "unknown init"),
    (["--dtype", "float16"], "unknown dtype"),
    (["--mode", "both"], "unknown mode"),
    (["--models", "scratch,torch"], "models must be one or both"),
    (["--seeds", "0"], "seeds"),
    (["--blas-threads", "-1"], "--blas-threads must be"),
    (["--val-size", "-1"], "--val-size must be"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_FLAGS)
def test_bad_flag_is_one_line_exit_2(argv, message, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = run_cli([*argv, "--out", str(out)], capsys)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("mnist-compare: error:")
    assert not out.exists()  # nothing started


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("epochs = 3\nbogus = 1\n", "unknown key(s) bogus"),
        ("[model]\nhidden = [3]\n", "[model] unknown key(s) hidden"),
        ("epochs = \n", "not valid TOML"),
        ("[data]\nval_size = 'many'\n", "val_size"),
        ('preset = "nope"\n', "unknown preset"),
    ],
)
def test_bad_config_file_is_one_line_exit_2(content, message, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(content)
    out = tmp_path / "run"
    code, err = run_cli(["--config", str(config), "--out", str(out)], capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_unreadable_config_file(tmp_path, capsys):
    code, err = run_cli(["--config", str(tmp_path / "missing.toml")], capsys)
    assert code == 2 and "not found" in err and err.count("\n") == 1
    code, err = run_cli(["--config", str(tmp_path)], capsys)  # a folder, not a file
    assert code == 2 and "cannot read config file" in err and err.count("\n") == 1


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = run_cli(["--out", str(blocker / "run")], capsys)
    assert code == 2 and "cannot write the run folder" in err and err.count("\n") == 1
    code, err = run_cli(["--out", str(blocker)], capsys)
    assert code == 2 and "is a file" in err


def test_existing_folder_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    code, err = run_cli(["--out", str(out), "--epochs", "0"], capsys)
    assert code == 2 and "epochs" in err  # config errors come first
    code, err = run_cli(["--out", str(out)], capsys)
    assert code == 2 and "already exists; pass --overwrite" in err
    assert (out / "summary.json").read_text() == "{}"


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    code, err = run_cli(["--out", str(out), "--overwrite"], capsys)
    assert code == 2 and "not a run folder" in err
    assert (out / "thesis.tex").exists()


def test_missing_data_leaves_no_folder_behind(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = run_cli(["--data-dir", str(tmp_path / "nowhere"), "--out", str(out)], capsys)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    assert not out.exists()


def test_overwrite_keeps_the_old_run_when_the_new_one_fails_early(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"old": true}')
    (out / "metrics.csv").write_text("old metrics")
    argv = ["--out", str(out), "--overwrite", "--data-dir", str(tmp_path / "nowhere")]
    code, err = run_cli(argv, capsys)
    assert code == 2 and "does not exist" in err
    assert (out / "summary.json").read_text() == '{"old": true}'
    assert (out / "metrics.csv").read_text() == "old metrics"
    assert not (tmp_path / ".run.previous").exists()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('preset = ["a"]', "unknown preset"),
        ("models = [1]", "models must be one or both of scratch,keras; got 1"),
        ("[model]\ninput_size = 100", "must be 784 and 10 for MNIST"),
        ("[model]\noutput_size = 5", "must be 784 and 10 for MNIST"),
    ],
)
def test_config_files_with_wrong_types_or_sizes_are_one_line_errors(
    tmp_path, capsys, toml, message
):
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n")
    code, err = run_cli(["--config", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_unknown_option_points_to_the_subcommand_help(capsys):
    code, err = run_cli(["--foo"], capsys)
    assert code == 2 and "unrecognized arguments: --foo (see mnist-compare run --help)" in err


@pytest.mark.mnist
def test_invocation_is_the_command_line_and_runs_again(mnist_dir, tmp_path):
    import json
    import shlex

    argv = ["run", "--models", "scratch", "--data-dir", str(mnist_dir), "--limit-train", "300",
            "--epochs", "1", "--hidden", "16,8", "--l2", "0.0", "--blas-threads", "0",
            "--out", str(tmp_path / "first"), "--quiet", "--no-report"]  # fmt: skip
    assert main(argv) == 0
    typed = json.loads((tmp_path / "first" / "summary.json").read_text())["invocation"]
    assert typed == shlex.join(["mnist-compare", *argv])  # 0 and 0.0 kept as typed
    again = shlex.split(typed)[1:]
    again[again.index("--out") + 1] = str(tmp_path / "again")
    assert main(again) == 0
    from compare.runconfig import load_toml

    first = load_toml(tmp_path / "first" / "config.toml")
    assert load_toml(tmp_path / "again" / "config.toml") == first  # the same config
