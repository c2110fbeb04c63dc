"""Fuzzed library inputs (issue 12, item 6).

Hypothesis throws malformed inputs at every public callable of
``descentlab.{optim, schedulers, init, layers, surfaces, grading}``: the
functions and classes named in each module's ``__all__`` and the public
methods of those classes.  The only outcomes allowed are success, ValueError
and TypeError.  The fuzz runs in a child process (:mod:`.worker`), so a
segfault or abort in a compiled kernel fails the test with the example that
caused it instead of killing pytest.

* :mod:`.values`: strategies of malformed values (wrong types and dtypes,
  strided and read-only arrays, NaN/inf/huge numbers, ...) and of canary-
  guarded arrays that reveal an out-of-bounds write;
* :mod:`.registry`: which callables are fuzzed and the strategy for each
  argument, by argument name;
* :mod:`.worker`: the child that runs the fuzz and reports as JSON lines.
"""
