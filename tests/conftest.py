"""Shared test configuration.

Hypothesis profiles: ``ci`` (the default) draws enough examples to find real
disagreements; ``nojit`` is picked automatically under NUMBA_DISABLE_JIT=1,
where every kernel runs as plain Python and is ~1000x slower; ``dev`` is for
quick local runs (``--hypothesis-profile=dev``).
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
               print_blob=True)
settings.register_profile("ci", max_examples=40, **_common)
settings.register_profile("nojit", max_examples=6, **_common)
settings.register_profile("dev", max_examples=10, **_common)
settings.load_profile("nojit" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "ci")
settings.register_profile("thorough", max_examples=400, **_common)
