"""Checks of the default run's results (`make run`, then `make check-run`).

Every test here is marked ``default_run``: plain `pytest` and `make test` deselect them, and
`make check-run` (CI, after `make run`) selects them. There a missing result is a failure, never a
skip: a check with nothing to read has not passed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.default_run)


@pytest.fixture
def run_result():
    """``run_result("mini/model_card.json")``: the path of a result of `make run`; fails if it is missing."""

    def path(relative: str) -> Path:
        file = RESULTS / relative
        if not file.exists():
            pytest.fail(f"{file} is missing: the default run did not produce it (run `make run` first)")
        return file

    return path
