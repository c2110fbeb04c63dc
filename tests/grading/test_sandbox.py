"""The sandbox: student code in another process, unable to reach the reference."""

import numpy as np
import pytest

from descentlab.grading.sandbox import RemoteError, StudentProcess

FORBIDDEN = ("descentlab.optim", "descentlab.grading", "torch")


def student(source, **kwargs):
    return StudentProcess([(0, source)], FORBIDDEN, **kwargs)


def test_calls_return_values_and_in_place_updates():
    code = "import numpy as np\ndef f(w, state):\n    print('noise')\n    state['n'] = state.get('n', 0) + 1\n    w += 1\n    return w * 2"
    with student(code) as child:
        f = child.function("f")
        w, state = np.zeros(3), {}
        out = f(w, state)
        assert np.array_equal(out, np.full(3, 2.0))
        assert np.array_equal(w, np.ones(3)) and state == {"n": 1}  # copied back


def test_reference_modules_cannot_be_imported():
    with student("def f():\n    import descentlab.optim\n    return 1") as child:
        with pytest.raises(RemoteError, match="descentlab.optim is not available to graded code"):
            child.function("f")()


def test_student_exceptions_come_back_as_messages():
    with student("def f(x):\n    raise ValueError('bad x')") as child:
        with pytest.raises(RemoteError, match="ValueError: bad x"):
            child.function("f")(1)
        with pytest.raises(RemoteError, match="no function 'g'"):
            child.function("g")()


def test_a_function_that_never_returns_times_out_and_later_calls_fail_fast():
    with student("def f():\n    while True:\n        pass\ndef g():\n    return 1",
                 call_timeout=2) as child:
        with pytest.raises(RemoteError, match="TimeoutError"):
            child.function("f")()
        with pytest.raises(RemoteError, match="not run"):
            child.function("g")()


def test_a_process_that_kills_itself_is_reported():
    with student("import os\ndef f():\n    os._exit(3)") as child:
        with pytest.raises(RemoteError):
            child.function("f")()


def test_failing_cells_are_recorded_and_later_cells_still_run():
    with StudentProcess([(0, "1/0"), (1, "def f():\n    return 5")], FORBIDDEN) as child:
        assert "ZeroDivisionError" in child.cell_errors[0]
        assert child.function("f")() == 5


def test_generators_arrive_as_iterators():
    with student("def batches(n):\n    for i in range(n):\n        yield [i, i + 1]") as child:
        assert list(child.function("batches")(3)) == [[0, 1], [1, 2], [2, 3]]


def test_monkeypatching_in_the_child_does_not_reach_the_parent():
    import descentlab.grading as grading

    before = grading.check
    with student("import sys\nsys.modules.pop('descentlab', None)\ndef f():\n    return 1") as child:
        child.function("f")()
    assert grading.check is before


def test_a_random_generator_advances_as_it_would_in_process():
    with student("def draw(rng):\n    return rng.integers(0, 10**9)") as child:
        rng = np.random.default_rng(5)
        remote = [child.function("draw")(rng) for _ in range(3)]
    local_rng = np.random.default_rng(5)
    assert remote == [local_rng.integers(0, 10**9) for _ in range(3)]
