"""Helpers for CLI tests: run `lenet-edge` in-process and check the one-line error contract."""
from typer.testing import CliRunner

from lenet_edge.cli import app


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    """The single `error: ...` line of a failed command: exit code 1, nothing else on stderr."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def assert_one_error_line(result, *fragments) -> None:
    line = one_error_line(result)
    for fragment in fragments:
        assert fragment in line, line
