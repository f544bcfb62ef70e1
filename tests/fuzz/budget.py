"""How hard the fuzz targets try.

In the normal suite every target runs a small, derandomized budget, so the
run is quick and repeatable. `MIXD_FUZZ_EXAMPLES=N` runs N random inputs per
target instead, without a deadline (see docs/fuzzing.md).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_RUN = os.environ.get("MIXD_FUZZ_EXAMPLES")
CI_EXAMPLES = 200
_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def fuzz(examples: int = CI_EXAMPLES) -> settings:
    """Settings for one target; `examples` is its budget in the normal suite."""
    if LONG_RUN:
        return settings(
            max_examples=int(LONG_RUN),
            deadline=None,
            suppress_health_check=_CHECKS,
            print_blob=True,
        )
    return settings(
        max_examples=examples,
        deadline=2000,  # milliseconds per input: generous on a loaded machine
        derandomize=True,
        database=None,
        suppress_health_check=_CHECKS,
        print_blob=True,
    )
