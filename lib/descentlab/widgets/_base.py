"""The small base every explorer stands on: one off-screen matplotlib figure
shown as PNG in an ``ipywidgets.Image``, batched redraws, and the helpers
that set controls and encode pictures."""

from __future__ import annotations

import base64
import contextlib
import io

import ipywidgets as widgets
import numpy as np

from .. import _checks


class _Picture:
    """What every explorer shares: a ``widget`` to display, whose picture is the
    PNG in ``image``."""

    def png(self) -> bytes:
        """The current picture, as PNG bytes."""
        return self.image.value

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        # renderers without widgets (static exports) fall back to the picture
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle



class _FigureExplorer(_Picture):
    """What the explorers below share with :class:`SurfaceExplorer`'s design:
    one off-screen figure shown as PNG in an ``ipywidgets.Image``, and
    batched redraws (:meth:`hold`)."""

    _owner = "explorer"

    def _start(self, figsize, dpi, ncols: int, **subplot_kw):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self._hold_depth = 0
        self._pending: set[str] = set()
        self.timings: dict[str, float] = {}
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        return self.figure.subplots(1, ncols, **subplot_kw)

    @contextlib.contextmanager
    def hold(self):
        """Batch changes: nothing is recomputed or redrawn until the block ends."""
        self._hold_depth += 1
        try:
            yield self
        finally:
            self._hold_depth -= 1
            if self._hold_depth == 0 and self._pending:
                pending, self._pending = self._pending, set()
                self._flush(pending)

    def _request(self, what: str) -> None:
        self._pending.add(what)
        if self._hold_depth == 0:
            pending, self._pending = self._pending, set()
            self._flush(pending)

    def _flush(self, pending: set[str]) -> None:
        raise NotImplementedError

    def _check_keys(self, settings, keys) -> None:
        unknown = sorted(set(settings) - set(keys))
        if unknown:
            raise TypeError(f"{self._owner}.set: unknown settings {unknown}; known: {list(keys)}")

    def update(self) -> None:
        """Recompute and redraw (what any control change does)."""
        self._request("compute")




def _positive(values) -> np.ndarray:
    """Values for a log axis: what is not finite and > 0 becomes NaN."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _png(canvas) -> bytes:
    from PIL import Image

    width, height = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    out = io.BytesIO()
    image.save(out, format="png", compress_level=1)
    return out.getvalue()


def _assign(widget, value, name: str, owner: str = "SurfaceExplorer") -> None:
    """Set a control's value, refusing what the control would silently clip."""
    if isinstance(widget, (widgets.Dropdown, widgets.ToggleButtons, widgets.SelectionSlider)):
        if value not in widget.options:
            raise ValueError(f"{owner}: {name} must be one of {list(widget.options)}, "
                             f"got {value!r}")
        widget.value = value
        return
    if isinstance(widget, widgets.IntSlider):
        value = _checks.integer(value, name, owner)
        lo, hi = widget.min, widget.max
    elif isinstance(widget, widgets.FloatLogSlider):
        value = _checks.real(value, name, owner)
        lo, hi = widget.base ** widget.min, widget.base ** widget.max
    else:
        value = _checks.real(value, name, owner)
        lo, hi = widget.min, widget.max
    if not lo <= value <= hi:
        raise ValueError(f"{owner}: {name} must lie in [{lo:g}, {hi:g}], got {value!r}")
    widget.value = value


def _escape(text: str) -> str:
    import html

    return html.escape(text)
