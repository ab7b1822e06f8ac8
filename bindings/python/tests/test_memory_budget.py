"""The memory budget option (issue 16): what the setter accepts and refuses. No broker
needed: a client is created, never connected."""

from __future__ import annotations

import pytest

import midge
from midge.client import MEMORY_BUDGET_DEFAULT, MEMORY_BUDGET_MIN

# A port nothing listens on; the client never connects.
NOWHERE = "mqtt://127.0.0.1:9"


def test_the_documented_default_and_minimum() -> None:
    assert MEMORY_BUDGET_DEFAULT == 16 * 1024 * 1024
    assert MEMORY_BUDGET_MIN == 64 * 1024


@pytest.mark.parametrize("budget", [MEMORY_BUDGET_MIN, MEMORY_BUDGET_DEFAULT, 1 << 40])
def test_a_budget_of_at_least_the_minimum_is_accepted(budget: int) -> None:
    midge.Client(NOWHERE, memory_budget=budget).close()


@pytest.mark.parametrize("budget", [0, 1, MEMORY_BUDGET_MIN - 1, -1, 1 << 64])
def test_a_budget_out_of_range_is_refused(budget: int) -> None:
    with pytest.raises(midge.InvalidArgument, match="memory_budget"):
        midge.Client(NOWHERE, memory_budget=budget)


@pytest.mark.parametrize("budget", [True, 1.5e6, "16M", b"x"])
def test_a_budget_that_is_not_an_int_is_a_type_error(budget: object) -> None:
    with pytest.raises(midge.InvalidType, match="memory_budget"):
        midge.Client(NOWHERE, memory_budget=budget)  # type: ignore[arg-type]
