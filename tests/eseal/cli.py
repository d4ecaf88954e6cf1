"""Running the `eseal` command line in the test process."""

from __future__ import annotations

from typer.testing import CliRunner

from eseal.cli import app

from ..conftest import EXAMPLES

__all__ = ["eseal", "issue_sample"]

_runner = CliRunner()


def eseal(*args: str) -> tuple[int, str]:
    """Run one command; its exit code and everything it printed."""
    result = _runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def issue_sample(holder: str, type_id: str = "resident-id") -> tuple[int, str]:
    """`eseal issue` of the type's sample claims from examples/."""
    claims = str(EXAMPLES / f"{type_id}.json")
    return eseal("issue", type_id, "--claims", claims, "--holder", holder)
