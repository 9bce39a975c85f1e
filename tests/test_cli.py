"""The CLI as a newcomer meets it: no command replaces a file it did not write, every numeric and
path flag is checked in one line, --version, a fast `models`, plain output when piped."""
import json
import subprocess
import sys

from pathlib import Path

import pytest
import typer

from lenet_edge.cli import app
from lenet_edge.errors import UsageError
from lenet_edge.models import catalog
from lenet_edge.outputs import MARKER, claim_files, claim_folder
from tests.cli_support import invoke, one_error_line

BOX = set("─│┃━┏┓┗┛┡┩└┘┌┐├┤┬┴┼╭╮╰╯═║")

# ---------------------------------------------------------------------------------------------
# Lost work: each command that writes refuses a folder or file it did not write, before any work


def user_file(path, content=b"the user's own work\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def assert_refused(result, path, content=b"the user's own work\n"):
    line = one_error_line(result)
    assert path.name in line, line
    assert path.read_bytes() == content


def test_train_prune_and_qat_refuse_a_folder_with_a_users_metrics(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for command in (["train", "--model", "lenet1"], ["prune", source], ["qat", source]):
        folder = tmp_path / command[0]
        mine = user_file(folder / "metrics.json")
        assert_refused(invoke(*command, "--out", folder), mine)
        assert "choose a new or empty folder" in one_error_line(invoke(*command, "--out", folder))


def test_train_qat_refuses_too(tmp_path):
    mine = user_file(tmp_path / "run" / "metrics.json")
    assert_refused(invoke("train", "--model", "lenet1", "--qat", "--out", tmp_path / "run"), mine)


def test_convert_refuses_to_replace_a_users_c_array(tmp_path):
    mine = user_file(tmp_path / "out" / "model_data.cc")
    assert_refused(invoke("convert", tmp_path, "--out", tmp_path / "out" / "model.tflite", "--c-array"), mine)
    # without --c-array nothing of the user's is in the way (and the empty run folder is what fails)
    assert "not a lenet-edge run" in one_error_line(invoke("convert", tmp_path, "--out", tmp_path / "out" / "model.tflite"))


def test_flash_refuses_a_users_folder_and_outputs_before_building(tmp_path):
    model = user_file(tmp_path / "model.tflite", b"not even a model")
    mine = user_file(tmp_path / "firmware" / "main.c")
    assert_refused(invoke("flash", model, "--out", tmp_path / "firmware"), mine)
    inputs = user_file(tmp_path / "x.npy", b"")
    outputs = user_file(tmp_path / "y.npy")
    assert_refused(invoke("flash", model, "--inputs", inputs, "--outputs", outputs), outputs)


def test_pipeline_refuses_a_folder_with_a_users_report(tmp_path):
    mine = user_file(tmp_path / "p" / "report.md")
    assert_refused(invoke("pipeline", "--out", tmp_path / "p", "--quick"), mine)


def test_read_and_simulate_refuse_to_replace_a_users_file(tmp_path):
    model = user_file(tmp_path / "model.tflite", b"not even a model")
    image = user_file(tmp_path / "digits.png", b"not even an image")
    mine = user_file(tmp_path / "digits.npz")
    assert_refused(invoke("read", image, "--model", model, "--raw-digits", mine), mine)
    inputs = user_file(tmp_path / "x.npy", b"")
    mine = user_file(tmp_path / "y.npy")
    assert_refused(invoke("simulate", model, "--inputs", inputs, "--outputs", mine), mine)


def test_a_command_may_write_into_a_new_an_empty_or_its_own_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "new", tmp_path / "empty"):
        with claim_folder(folder, "flash"):
            folder.mkdir(exist_ok=True)
            (folder / "main.c").write_text("int main(void) { return 0; }\n")
        with claim_folder(folder, "flash"):  # again: its own
            pass
        with pytest.raises(UsageError, match="main.c, which lenet-edge pipeline did not write"):
            with claim_folder(folder, "pipeline"):
                pass


def test_a_run_folder_from_before_the_marker_still_resumes(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with claim_folder(tmp_path, "train"):
        pass
    assert json.loads((tmp_path / MARKER).read_text()) == {"folder": "train"}


def test_files_are_replaced_only_when_the_command_wrote_them(tmp_path):
    out = tmp_path / "y.npy"
    with claim_files([out, None], "simulate", "--outputs"):
        out.write_bytes(b"1")
    with claim_files([out], "simulate", "--outputs"):  # its own file
        out.write_bytes(b"2")
    with pytest.raises(UsageError, match="--outputs: .*y.npy already exists and lenet-edge flash did not write it"):
        with claim_files([out], "flash", "--outputs"):
            pass
    with pytest.raises(RuntimeError):  # a failed write records nothing
        with claim_files([tmp_path / "z.npy"], "simulate", "--outputs"):
            raise RuntimeError
    assert json.loads((tmp_path / MARKER).read_text()) == {"files": {"y.npy": "simulate"}}


# ---------------------------------------------------------------------------------------------
# Flags: every int, float and path parameter of every command is checked in one line

# Options where 0 is a meaningful value (-1 must still be refused), each with its reason.
ZERO_IS_VALID = {
    ("train", "--seed"): "seed 0 is the default seed",
    ("train", "--weight-decay"): "0 turns weight decay off (the default)",
    ("prune", "--retrain-epochs"): "0 deletes without retraining",
    ("read", "--reject"): "a confidence threshold of 0 rejects no digit",
    ("read", "--reject-string"): "a margin threshold of 0 rejects no string (the default)",
    ("pipeline", "--sparsity"): "0 runs the stages without pruning",
    ("pipeline", "--qat-epochs"): "0 converts the pruned model post-training, without QAT",
    ("pipeline", "--seed"): "seed 0 is the default seed",
    ("tune", "--flash-best"): "0 flashes no front trial on QEMU",
    ("tune", "--seed"): "seed 0 is the default seed",
}
# Paths a command writes: they need not exist beforehand (claim_folder / claim_files guard them).
OUTPUT_PATHS = {("train", "--out"), ("prune", "--out"), ("qat", "--out"), ("convert", "--out"),
                ("read", "--raw-digits"), ("simulate", "--outputs"), ("flash", "--outputs"),
                ("flash", "--out"), ("pipeline", "--out"), ("calibrate", "--out"),
                ("calibrate", "--models"), ("tune", "--out")}


def checked_parameters():
    """(command, parameter) for every numeric or path parameter of the app."""
    for name, command in sorted(typer.main.get_command(app).commands.items()):
        for param in command.params:
            if param.type_descriptor.annotation in (int, float, Path):  # Optional[int] is int here
                yield name, param


def invocation(name, param, value):
    # Only this parameter is given: Click runs the callbacks of the parameters on the command
    # line first, so the check must fire before the missing required ones are noticed.
    flag = param.opts[0]
    return [name, flag, value] if flag.startswith("-") else [name, value]


@pytest.mark.parametrize("name, param", list(checked_parameters()), ids=lambda x: getattr(x, "name", x))
def test_every_numeric_and_path_parameter_is_checked_in_one_line(name, param, tmp_path):
    flag = param.opts[0]
    if param.type_descriptor.annotation is Path:
        if (name, flag) in OUTPUT_PATHS:
            return
        missing = tmp_path / "does-not-exist"
        line = one_error_line(invoke(*invocation(name, param, missing)))
        assert str(missing) in line and "does not exist" in line
        return
    values = [-1] if (name, flag) in ZERO_IS_VALID else [0, -1]
    for value in values:
        line = one_error_line(invoke(*invocation(name, param, value)))
        assert flag in line and f"got {value}" in line, line


def test_the_allowlists_name_real_options():
    known = {(name, param.opts[0]) for name, param in checked_parameters()}
    assert set(ZERO_IS_VALID) <= known and OUTPUT_PATHS <= known


def test_data_dir_is_checked_even_with_the_environment_variable_set(tmp_path, monkeypatch):
    monkeypatch.setenv("LENET_EDGE_DATA", str(tmp_path))
    line = one_error_line(invoke("evaluate", tmp_path, "--data-dir", tmp_path / "nonexistent"))
    assert "--data-dir" in line and "nonexistent" in line


# ---------------------------------------------------------------------------------------------
# --version, a fast `models`, plain output when piped


def test_version():
    from importlib import metadata

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"lenet-edge {metadata.version('lenet-edge')}"


def test_models_does_not_import_tensorflow():
    script = ("import sys; from lenet_edge.cli import app; app(['models'], standalone_mode=False); "
              "sys.exit('tensorflow' in sys.modules or 'tf_keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "lenet5-modern" in result.stdout


def test_piped_models_is_plain_tab_separated_text():
    result = invoke("models")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert not BOX & set(result.stdout)
    assert lines[0].split("\t") == ["model", "parameters", "connections", "input", "dataset", "description"]
    assert all(len(line.split("\t")) == 6 for line in lines) and len(lines) == 1 + len(catalog.MODELS)  # a header, a line a model
    assert "modern Keras LeNet-5: full C3, average pooling, dense softmax output" in result.stdout


def test_piped_help_is_plain_text():
    # a real pipe: the choice between rich's boxes and click's plain help is made when typer loads
    result = subprocess.run([sys.executable, "-m", "lenet_edge.cli", "train", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ") and "train [OPTIONS]" in result.stdout and "--train-limit" in result.stdout
    assert not BOX & set(result.stdout)


def test_piped_check_prints_each_verdict_line_whole(tmp_path):
    from firmware_sim.fit.check import check_model
    from tests.test_planner import zoo_int8_tflite

    model = tmp_path / "lenet5.tflite"
    model.write_bytes(zoo_int8_tflite("lenet5"))
    result = invoke("check", model, "--device", "nrf52840", "--digits-per-second", 50)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    verdicts = check_model(model, "nrf52840", 50).verdict_lines()
    assert any(len(verdict) > 80 for verdict in verdicts)  # what a terminal-width console would break
    for verdict in verdicts:
        assert verdict in lines, verdict
    assert not BOX & set(result.stdout)


def test_c_array_names_follow_the_tflite_and_stay_c_identifiers():
    from convert.c_array import c_sources, names_for

    assert names_for("model.tflite") == ("model_data", "g_model")  # the TFLM examples' names
    stem, symbol = names_for("lenet5-int8.v2.tflite")
    assert (stem, symbol) == ("lenet5-int8.v2_data", "g_lenet5_int8_v2")
    sources = c_sources(b"\x01\x02", name=symbol, stem=stem)
    assert set(sources) == {"lenet5-int8.v2_data.h", "lenet5-int8.v2_data.cc"}
    assert "const unsigned int g_lenet5_int8_v2_len = 2;" in sources["lenet5-int8.v2_data.cc"]
