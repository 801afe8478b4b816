"""Settings for the whole suite: hypothesis profiles, so a failing property test fails again on rerun.

- ``ci`` (the default, so CI and a plain ``pytest`` run the same examples): ``derandomize=True``, so
  every run tries the same examples, and a red build is red again on the developer's machine. No example
  database: with fixed examples it has nothing to remember.
- ``explore``: random examples for hunting new bugs locally (``pytest --hypothesis-profile=explore``);
  a failure prints its ``@reproduce_failure`` blob and is kept in ``.hypothesis/`` for the next run.

Per-test ``@settings(max_examples=..., deadline=...)`` still apply on top of the chosen profile.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
# The hypothesis pytest plugin applies --hypothesis-profile after this, so the option still wins.
settings.load_profile("ci")
