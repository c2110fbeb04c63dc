"""Importing descentlab.layers or descentlab.init is instant: nothing compiles, torch stays out."""

import json
import os
import subprocess
import sys
import textwrap

from .cases import needs_jit


def python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    return out.stdout


@needs_jit
def test_importing_layers_compiles_nothing_and_loads_no_torch():
    report = json.loads(python("""
        import json, sys
        import descentlab.init, descentlab.layers
        from descentlab._jit import Kernel
        from descentlab.layers import batchnorm, dropout, groupnorm, layernorm
        kernels = [k for m in (batchnorm, dropout, layernorm, groupnorm) for k in vars(m).values()
                   if isinstance(k, Kernel)]
        print(json.dumps({"kernels": len(kernels), "torch": "torch" in sys.modules,
                          "compiled": sum(len(k.serial.signatures) + len(k.parallel.signatures)
                                          for k in kernels)}))
    """))
    assert report == {"kernels": 9, "torch": False, "compiled": 0}
