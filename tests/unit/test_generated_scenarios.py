"""The generated scenario corpus (also run under Pyodide) gives its stated verdicts."""

from __future__ import annotations

from typing import Any

import pytest
from scenario_gen import Expect, generate

from verifier import decide

CASES = list(generate())


@pytest.mark.parametrize(("name", "scenario", "expect"), CASES, ids=[c[0] for c in CASES])
def test_generated_scenario(name: str, scenario: dict[str, Any], expect: Expect) -> None:
    navigation, status, detail = expect
    verdict = decide(scenario)
    assert verdict["navigation"] == navigation
    assert verdict["manifest"]["status"] == status
    if detail is not None:
        assert verdict["manifest"]["detail"] == detail
