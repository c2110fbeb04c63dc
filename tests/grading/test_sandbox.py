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


def test_reference_modules_import_as_stand_ins_that_refuse_to_run():
    # importing in a scratch cell is allowed (comparing with torch is good practice);
    # nothing from the module can be used
    code = ("import torch\nfrom descentlab.optim import Adam\n"
            "def f():\n    return Adam([1.0])\ndef g():\n    return torch.optim.SGD([], lr=1)")
    with student(code) as child:
        assert not child.cell_errors
        with pytest.raises(RemoteError, match="descentlab.optim.Adam is not available to graded"):
            child.function("f")()
        with pytest.raises(RemoteError, match="torch.optim.SGD is not available to graded code"):
            child.function("g")()


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


# -- nothing the student controls is unpickled; identity travels as data ----------------------

def test_an_answer_that_is_not_plain_data_is_a_typed_failure_and_runs_nothing():
    code = ("import os, dataclasses, numpy as np\n"
            "class Evil:\n    def __reduce__(self):\n        return (os.system, ('touch /tmp/pwned',))\n"
            "@dataclasses.dataclass\nclass Box:\n    x: float\n"
            "def evil():\n    return Evil()\ndef box():\n    return Box(1.0)\n"
            "def masked():\n    return np.ma.masked_all(3)\n"
            "def sub():\n    return np.zeros(2).view(np.recarray)\n")
    with student(code) as child:
        for name, kind in [("evil", "Evil"), ("box", "Box"), ("masked", "MaskedArray"),
                           ("sub", "recarray")]:
            with pytest.raises(RemoteError, match=f"TypeError: the answer could not be sent.*{kind}"):
                child.function(name)()
        assert child.function("sub") and not child.dead  # a typed failure, the child goes on


def test_deep_nesting_is_refused_in_the_child_not_a_recursion_in_the_grader():
    with student("def deep():\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x") \
            as child:
        with pytest.raises(RemoteError, match="nested more than"):
            child.function("deep")()


def test_garbage_on_the_protocol_descriptor_is_a_protocol_error():
    # the child can find its reply descriptor and write anything there, e.g. a pickle
    import pickle

    payload = pickle.dumps(("ok", "value", 1, (), {}))
    code = ("import os, struct\n"
            f"PAYLOAD = {payload!r}\n"
            "def f():\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            os.write(fd, struct.pack('<Q', len(PAYLOAD)) + PAYLOAD)\n"
            "        except OSError:\n"
            "            pass\n"
            "    return 1\n")
    from descentlab.grading.sandbox import ProtocolError

    with student(code) as child:
        with pytest.raises(ProtocolError):
            child.function("f")()
        assert child.protocol_errors and child.dead.startswith("protocol error")


def test_an_answer_aliasing_an_argument_aliases_it_here_too():
    code = ("def shallow(w, state, step):\n    return {'w': w, 'state': dict(state), 'step': step}\n"
            "def deep(w, state, step):\n"
            "    return {'w': w.copy(), 'state': {k: v.copy() for k, v in state.items()}, "
            "'step': step}\n")
    with student(code) as child:
        w, state = np.arange(3.0), {"m": np.ones(3)}
        saved = child.function("shallow")(w, state, 5)
        assert saved["w"] is w and saved["state"]["m"] is state["m"]
        assert saved["state"] is not state
        saved = child.function("deep")(w, state, 5)
        assert not np.shares_memory(saved["w"], w)
        assert not np.shares_memory(saved["state"]["m"], state["m"])


def test_cpu_is_limited_per_cell_not_per_life():
    # seven cells of 0.6 s CPU each (4.2 s in all), with a 3 s budget per cell
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6:\n    pass"
    cells = [(i, busy) for i in range(7)] + [(7, "def f():\n    return 7")]
    with StudentProcess(cells, FORBIDDEN, cell_timeout=3) as child:
        assert not child.cell_errors
        assert child.function("f")() == 7
