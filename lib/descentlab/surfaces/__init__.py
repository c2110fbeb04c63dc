r"""2-D test functions with analytic gradients, and compiled descent paths.

The surfaces (``SURFACES``; build one with ``get(name, **params)`` or its
factory)::

    quadratic(kappa=10, lam_max=1, angle=0)   ill-conditioned bowl; .optimal_lr = 2/(lmin+lmax)
    rosenbrock(a=1, b=100)                    curved flat-bottomed valley
    beale()                                   plateaus and ridges, a saddle at (0, 1)
    himmelblau()                              four minima
    saddle()                                  x^2 - y^2
    rastrigin(A=10)                           a bowl covered in local minima
    gaussians(wells, bowl)                    a wide shallow basin beside a narrow deep well
    ravine(wall, floor, amplitude, frequency) a narrow winding valley

Each :class:`Surface` has ``value(x, y)`` and ``grad(x, y)`` (numbers or
arrays), ``grid(n)`` for contour plots, ``latex``, ``minimisers``,
``saddles``, ``min_value``, a window ``xlim``/``ylim`` and a ``start``.

``trajectory(name, surface, x0, steps, **hyper)`` runs any optimizer of
:mod:`descentlab.optim` on a surface in compiled code, with the optimizer's
own update kernel; ``losses(surface, path)`` evaluates a path::

    import descentlab.surfaces as S
    s = S.quadratic(kappa=50)
    path = S.trajectory("SGD", s, s.start, 100, lr=s.optimal_lr)
    f = S.losses(s, path)
"""

from .catalog import (GAUSSIAN_WELLS, SURFACES, Quadratic, Surface, beale, gaussians, get,
                      himmelblau, quadratic, rastrigin, ravine, rosenbrock, saddle)
from .paths import OPTIMIZERS, gradient_noise, losses, trajectory

__all__ = ["Surface", "Quadratic", "SURFACES", "get", "quadratic", "rosenbrock", "beale",
           "himmelblau", "saddle", "rastrigin", "gaussians", "ravine", "trajectory", "losses",
           "gradient_noise", "OPTIMIZERS", "GAUSSIAN_WELLS"]
