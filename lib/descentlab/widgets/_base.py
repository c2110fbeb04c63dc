"""The small base every explorer stands on.

**The kernel holds the exact values; sliders are views.**  A JupyterLab
slider snaps whatever the kernel sends it to its own grid (``min + k*step``,
or ``base**(k*step)`` for a log slider) and sends the snapped value back:
noUiSlider fires its ``update`` event on every programmatic ``set`` and when
a view is first drawn, and ipywidgets forwards it as if the student had
moved the slider.  That echo can arrive after a later ``set()``.  Trusting
the slider's ``value`` therefore turns lecture 03's start ``y = 1e-3`` into
0 and ``kappa = 50`` into 50.1187.  So every setting lives in a
:class:`Control`:

- ``control.value`` is the exact value (what ``set()`` gave, what was typed
  in the text box, or where the student put the slider);
- the slider is a view: a value coming back from the front end that lies
  within half a step of the current value, or of a value the kernel pushed
  since the student last moved it, is an echo and is ignored (and when it
  echoes an older value, the current one is sent to the view again);
- a text box next to the slider shows the exact value and takes a typed
  one (Enter or leaving the box), checked like ``set()``;
- a small label says which optimizers the setting affects.

The API for explorers (what a new explorer uses)::

    class MyExplorer(_FigureExplorer):
        _owner = "MyExplorer"              # named in error messages
        _KEYS = ("lr", "steps")            # what set() accepts

        def __init__(self, lr=0.1, steps=100):
            self.ax, = [self._start(figsize=(8, 3.5), dpi=100, ncols=1)]
            # declare each setting: a slider (its range and step) wrapped in a
            # Control; a change of it requests the named redraw
            self.lr = self._control("lr", widgets.FloatLogSlider(
                value=lr, min=-4, max=1, step=0.02, description="lr"),
                affects="SGD")
            self.steps = self._control("steps", widgets.IntSlider(
                value=steps, min=10, max=1000, step=10, description="steps"))
            with self.hold():
                self.set(lr=lr, steps=steps)   # exact values, one redraw
            self._finish()                      # remembers them for reset()
            self.widget = widgets.VBox([self.lr.widget, self.steps.widget,
                                        self.reset_button, self.status, self.image])

        def set(self, **settings):
            self._set_controls(settings)        # checks keys, ranges, one redraw

        def _flush(self, pending):              # pending: the requested names
            ... compute from self.lr.value, self.steps.value (never slider.value)
            ... draw into self.figure, then self._show() (the canvas to the Image)

- :meth:`_Picture._control` ``(name, view, *, request="compute", affects="",
  text=True)`` wraps a slider (FloatSlider, FloatLogSlider, IntSlider) or a
  choice widget (Dropdown, SelectMultiple, ToggleButtons, SelectionSlider; no
  text box) in a :class:`Control`, registers it in ``self.controls`` and
  makes every change of it call ``self._request(request)``.
- :meth:`Control.set` checks the value (ValueError/TypeError naming the
  setting and the value: a slider would silently clip it) and holds it
  exactly; ``control.value`` reads it; :meth:`Control.rescale` moves a
  slider's range and value together (one message, so no clipped echo).
- :meth:`_Picture.hold` batches changes into one redraw; ``_request(what)``
  asks for one; ``_flush(pending)`` (yours) does it.
- :meth:`_Picture.reset` (and ``self.reset_button``) restores every control
  to what it held at :meth:`_Picture._finish`.
- :meth:`_Picture._watch_clicks` sends clicks on the picture to your
  ``click(px, py)`` (image pixels, origin top left); ``self._data_at(ax, px,
  py)`` turns them into data coordinates (None outside ``ax``).
- ``self.status`` (HTML) reports rejected typed values; :meth:`_Picture.png`
  and the display bundle (with a static ``image/png`` for exports) come free.
- ``_assign(widget, value, name, owner)`` still works: on a widget that a
  Control owns it is ``control.set(value)``.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import io
import math

import ipywidgets as widgets
import numpy as np

from .. import _checks

_CHOICES = (widgets.Dropdown, widgets.ToggleButtons, widgets.SelectionSlider,
            widgets.SelectMultiple, widgets.RadioButtons)


class Control:
    """One setting of an explorer: the kernel holds its exact value; a slider
    (or a choice widget) and a text box show it, and take a student's changes.

    Args:
        view: the slider or choice widget that shows the value.
        name: the setting's name in error messages (e.g. ``"lr['Adam']"``).
        owner: the explorer's name in error messages.
        affects: which optimizers the setting affects, shown next to it.
        text: add a text box for typing the exact value (sliders only).

    Attributes: ``view``, ``text`` (``ipywidgets.Text`` or None),
    ``affects_label`` (HTML), ``widget`` (the three in a row), ``value``.
    """

    def __init__(self, view, *, name: str, owner: str = "explorer", affects: str = "",
                 text: bool = True):
        self.view, self.name, self.owner = view, name, owner
        if isinstance(view, _CHOICES):
            self.kind = "choice"
        elif isinstance(view, widgets.FloatLogSlider):
            self.kind = "log"
        elif isinstance(view, (widgets.IntSlider, widgets.BoundedIntText)):
            self.kind = "int"
        else:
            self.kind = "float"
        self._value = self._coerce(view.value) if self.kind != "choice" else view.value
        # values pushed to the view since the student last moved it: their
        # snapped echoes may still come back, late and more than once (a view
        # drawn later echoes the value it starts from)
        self._echoes: collections.deque = collections.deque(maxlen=256)
        self._callbacks: list = []
        self._errors: list = []
        self._syncing = False
        self.default = self._value
        self.text = None
        if text and self.kind != "choice":
            # the slider's own readout would show the snapped value (and
            # editing it snaps too): the text box is the readout
            view.readout = False
            self.text = widgets.Text(value=self._format(self._value), continuous_update=False,
                                     layout=widgets.Layout(width="118px"),
                                     tooltip=f"type {name} exactly, then Enter")
            self.text.observe(self._on_text, "value")
        self.affects_label = widgets.HTML(layout=widgets.Layout(margin="0 0 0 4px"))
        self.affects = affects
        view.observe(self._on_view, "value")
        view._descentlab_control = self
        self.widget = widgets.HBox([w for w in (view, self.text, self.affects_label)
                                    if w is not None])

    # -- reading and setting -----------------------------------------------------
    @property
    def value(self):
        """The exact value (never the slider's snapped one)."""
        return self._value

    def set(self, value) -> None:
        """Hold ``value`` exactly (after checking it) and show it."""
        value = self.check(value)
        changed = not self._same(value, self._value)
        self._value = value
        self._push()
        if changed:
            self._notify()

    def check(self, value):
        """``value`` as this setting holds it, or ValueError/TypeError."""
        name, owner, view = self.name, self.owner, self.view
        if self.kind == "choice":
            options = list(getattr(view, "options", ()))
            labels = [o[0] if isinstance(o, tuple) and len(o) == 2 else o for o in options]
            if isinstance(view, widgets.SelectMultiple):
                value = (value,) if isinstance(value, str) else tuple(value)
                bad = [v for v in value if v not in labels]
                if bad:
                    raise ValueError(f"{owner}: {name} {bad} are not among {labels}")
                return value
            if value not in labels:
                raise ValueError(f"{owner}: {name} must be one of {labels}, got {value!r}")
            return value
        if self.kind == "int":
            value = _checks.integer(value, name, owner)
        else:
            value = _checks.real(value, name, owner)
        lo, hi = self.bounds
        if not lo <= value <= hi:
            raise ValueError(f"{owner}: {name} must lie in [{lo:g}, {hi:g}], got {value!r}")
        return value

    @property
    def bounds(self) -> tuple[float, float]:
        v = self.view
        if self.kind == "log":
            return v.base ** v.min, v.base ** v.max
        return v.min, v.max

    def rescale(self, min: float, max: float, step: float, value) -> None:
        """Move a slider's range and step (in the slider's own units: exponents
        for a log slider), and set its value, in one message
        (a front end that saw the new range with the old value would clip it
        and echo the clipped value)."""
        view = self.view
        with view.hold_sync():
            self._syncing = True
            try:
                view.min, view.max = -1e300, 1e300  # widen first: nothing clips
                view.step = step
                view.min, view.max = min, max
            finally:
                self._syncing = False
            self.set(value)

    @property
    def affects(self) -> str:
        return self._affects

    @affects.setter
    def affects(self, text: str) -> None:
        self._affects = text
        self.affects_label.value = (f"<span style='font-size:11px;color:#555' "
                                    f"title='optimizers this setting changes'>→ {text}</span>"
                                    if text else "")

    def observe(self, callback) -> None:
        """Call ``callback(control)`` after every change, from code or student."""
        self._callbacks.append(callback)

    def on_error(self, callback) -> None:
        """Call ``callback(message)`` when a typed value is rejected."""
        self._errors.append(callback)

    # -- the views -----------------------------------------------------------------
    def _push(self) -> None:
        self._syncing = True
        try:
            if self.kind != "choice" and (not self._echoes or self._echoes[-1] != self._value):
                self._echoes.append(self._value)
            self.view.value = self._value
            if self.text is not None:
                self.text.value = self._format(self._value)
        finally:
            self._syncing = False

    def _on_view(self, change) -> None:
        if self._syncing:
            return
        new = change["new"]
        if self.kind != "choice":
            if self._is_echo(new):
                return
            new = self._coerce(new)
            self._echoes.clear()
        if self._same(new, self._value):
            return
        self._value = new
        if self.text is not None:
            self._syncing = True
            try:
                self.text.value = self._format(new)
            finally:
                self._syncing = False
        self._notify()

    def _on_text(self, change) -> None:
        if self._syncing:
            return
        typed = change["new"].strip()
        try:
            value = float(typed)
            if self.kind == "int" and value.is_integer():
                value = int(value)
        except ValueError:
            value = typed  # check() names it in its TypeError
        try:
            self.set(value)
        except (ValueError, TypeError) as exc:
            self._syncing = True
            try:
                self.text.value = self._format(self._value)
            finally:
                self._syncing = False
            for callback in self._errors:
                callback(str(exc))
            return
        for callback in self._errors:
            callback("")

    def _is_echo(self, new) -> bool:
        """Is ``new`` the front end's snapped copy of a value the kernel sent?"""
        if self._near(new, self._value):
            return True
        if any(self._near(new, sent) for sent in self._echoes):
            # a late echo of an older value: the view may show it, so show
            # the current value again (its own echo is then near the current)
            self._syncing = True
            try:
                self.view.value = self._value
            finally:
                self._syncing = False
            return True
        return False

    def _near(self, a, b) -> bool:
        step = float(self.view.step or 0.0)
        try:
            a, b = float(a), float(b)
        except (TypeError, ValueError):
            return False
        if self.kind == "log":
            if a <= 0 or b <= 0:
                return a == b
            base = math.log(self.view.base)
            return abs(math.log(a) - math.log(b)) / base <= step / 2 + 1e-9
        return abs(a - b) <= step / 2 + 1e-9 * max(1.0, abs(b))

    def _notify(self) -> None:
        for callback in self._callbacks:
            callback(self)

    def _coerce(self, value):
        return int(value) if self.kind == "int" else float(value)

    def _same(self, a, b) -> bool:
        return type(a) is type(b) and a == b if self.kind != "choice" else a == b

    def _format(self, value) -> str:
        # repr is the shortest text that reads back as the same float
        return str(value) if self.kind == "int" else repr(float(value))

    def __repr__(self) -> str:
        return f"Control({self.name}={self._value!r})"


class _Picture:
    """What every explorer shares: a ``widget`` to display, whose picture is
    the PNG in ``image``; settings held exactly in :class:`Control` s
    (``controls``); batched redraws (:meth:`hold`); :meth:`reset`."""

    _owner = "explorer"
    _KEYS: tuple[str, ...] = ()

    def _init_controls(self) -> None:
        self.controls: dict[str, Control] = {}
        self._defaults: dict = {}
        self._hold_depth = 0
        self._pending: set[str] = set()
        self.timings: dict[str, float] = {}
        self.status = widgets.HTML()
        self.reset_button = widgets.Button(
            description="reset", icon="undo", layout=widgets.Layout(width="90px"),
            tooltip="back to the settings this explorer started with")
        self.reset_button.on_click(lambda _: self.reset())

    def _control(self, name: str, view, *, request: str = "compute", affects: str = "",
                 text: bool = True, label: str | None = None) -> Control:
        """Wrap ``view`` in a :class:`Control` registered as ``controls[name]``;
        a change requests the redraw ``request`` (or calls it with the control,
        when it is a function).  ``label`` names it in error messages."""
        control = Control(view, name=label or name, owner=self._owner, affects=affects,
                          text=text)
        if callable(request):
            control.observe(request)
        else:
            control.observe(lambda _: self._request(request))
        control.on_error(self._report_error)
        self.controls[name] = control
        return control

    def _report_error(self, message: str) -> None:
        self.status.value = (f"<span style='color:#b00'>{_escape(message)}</span>"
                             if message else "")

    def _set_controls(self, settings: dict, keys=None) -> None:
        """``set()`` for explorers whose settings are exactly their controls."""
        self._check_keys(settings, keys or self._KEYS)
        with self.hold():
            for key, value in settings.items():
                self.controls[key].set(value)

    def _finish(self) -> None:
        """Remember the current settings as what :meth:`reset` goes back to."""
        self._defaults = {name: c.value for name, c in self.controls.items()}
        for control in self.controls.values():
            control.default = control.value

    def reset(self) -> None:
        """Every control back to the value it had when the explorer was made
        (one redraw)."""
        with self.hold():
            for name, control in self.controls.items():
                if name in self._defaults:
                    control.set(self._defaults[name])
            self._reset_extra()
        self._report_error("")

    def _reset_extra(self) -> None:
        """Restore settings that are not controls (override)."""

    # -- batched redraws ---------------------------------------------------------
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

    def update(self) -> None:
        """Recompute and redraw (what any control change does)."""
        self._request("compute")

    def _check_keys(self, settings, keys) -> None:
        unknown = sorted(set(settings) - set(keys))
        if unknown:
            raise TypeError(f"{self._owner}.set: unknown settings {unknown}; known: {list(keys)}")

    # -- clicks on the picture -------------------------------------------------------
    def _watch_clicks(self) -> None:
        """Send clicks on the picture to :meth:`click`, through ipyevents (a
        small, well-kept widget library: its front end reports the click in
        the image's own pixels, whatever size the browser draws it at)."""
        from ipyevents import Event

        self._click_events = Event(source=self.image, watched_events=["click"],
                                   prevent_default_action=True)
        self._click_events.on_dom_event(self._dom_click)

    def _dom_click(self, event: dict) -> None:
        if "dataX" in event:
            px, py = event["dataX"], event["dataY"]
        else:  # scale the position in the drawn element to the image's pixels
            w, h = self.figure.canvas.get_width_height()
            px = event["relativeX"] * w / max(event.get("boundingRectWidth") or w, 1)
            py = event["relativeY"] * h / max(event.get("boundingRectHeight") or h, 1)
        self.click(float(px), float(py))

    def click(self, px: float, py: float) -> bool:
        """A click at pixel ``(px, py)`` of the picture (origin top left);
        True when it changed something.  Explorers override it."""
        return False

    def _data_at(self, ax, px: float, py: float):
        """The data coordinates of pixel ``(px, py)`` (origin top left) in
        ``ax``, or None when the pixel is outside it."""
        height = self.figure.canvas.get_width_height()[1]
        display = (px, height - py)  # matplotlib's display origin is bottom left
        if not ax.bbox.contains(*display):
            return None
        x, y = ax.transData.inverted().transform(display)
        return float(x), float(y)

    # -- the picture ---------------------------------------------------------------
    def _show(self) -> None:
        """Send what the figure's canvas holds to the ``image`` widget.

        As JPEG (quality 90, no chroma subsampling, so thin coloured lines stay
        crisp): it encodes in a sixth of the time of the fastest PNG, and a
        live picture is what a slider move waits for.  :meth:`png` gives the
        same frame losslessly, for the static export and for tests."""
        canvas = self.figure.canvas
        self._frame = np.array(canvas.buffer_rgba())  # a copy: ~1 ms
        self._png_bytes = None
        if self.image.format != "jpeg":
            self.image.format = "jpeg"
        self.image.value = _jpeg(self._frame)

    def png(self) -> bytes:
        """The current picture, as PNG bytes."""
        if getattr(self, "_frame", None) is None:
            return self.image.value  # an explorer that sets PNG bytes itself
        if self._png_bytes is None:
            self._png_bytes = _png_array(self._frame)
        return self._png_bytes

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        # renderers without widgets (static exports) fall back to the picture
        bundle["image/png"] = base64.b64encode(self.png()).decode("ascii")
        return bundle


class _FigureExplorer(_Picture):
    """An explorer that owns one off-screen matplotlib figure, shown as PNG in
    an ``ipywidgets.Image``; see the module docstring for the API."""

    def _start(self, figsize, dpi, ncols: int, **subplot_kw):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self._init_controls()
        # a bare Figure, not pyplot: the inline backend never shows a copy
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="jpeg")
        return self.figure.subplots(1, ncols, **subplot_kw)


def _positive(values) -> np.ndarray:
    """Values for a log axis: what is not finite and > 0 becomes NaN."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def _png(canvas) -> bytes:
    """The canvas as PNG (see :func:`_png_array`)."""
    return _png_array(np.asarray(canvas.buffer_rgba()))


def _png_array(rgba: np.ndarray) -> bytes:
    """An RGBA frame as PNG.  RGB, not RGBA (the figure is opaque: a quarter
    less to filter and deflate), at zlib level 1 (about half the time of the
    default for a file about 20% larger)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(out, format="png",
                                                               compress_level=1)
    return out.getvalue()


def _jpeg(rgba: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(out, format="jpeg", quality=90,
                                                               subsampling=0)
    return out.getvalue()


def _assign(widget, value, name: str, owner: str = "SurfaceExplorer") -> None:
    """Set a control's value, refusing what the control would silently clip.
    On a widget that a :class:`Control` owns, this is ``control.set(value)``."""
    control = getattr(widget, "_descentlab_control", None)
    if control is not None:
        control.set(value)
        return
    if isinstance(widget, _CHOICES):
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
