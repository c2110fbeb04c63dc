r"""Small numpy models whose parameters are a list of arrays for descentlab.optim.

Each model holds ``params`` (C-contiguous float32/float64 arrays, updated in
place by an optimizer) and computes its mean loss and the gradients by
backpropagation written out by hand::

    model = MLP(64, 32, 10, seed=0)
    opt = descentlab.optim.SGD(model.params, lr=0.1, momentum=0.9)
    for _ in range(200):
        loss, grads = model.loss_and_grads(X, y)
        opt.step(grads)

Weights are laid out as torch's ``nn.Linear`` lays them out, ``(out, in)``,
and initialised as it initialises them, :math:`\mathcal U(-1/\sqrt{n_{in}},
1/\sqrt{n_{in}})`; ``to_torch()`` builds the same network in torch, for
side-by-side runs with torch.optim.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .layers import batchnorm_backward, batchnorm_forward

__all__ = ["LinearRegression", "SoftmaxRegression", "MLP", "BatchNormMLP"]


class _Model:
    params: list[np.ndarray]

    def __init__(self, dtype, seed, owner):
        self._owner = owner
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype!r}") from None
        if self.dtype not in _checks.FLOAT_DTYPES:
            raise TypeError(f"{owner}: dtype must be float32 or float64, got {self.dtype}")
        self._rng = np.random.default_rng(_checks.integer(seed, "seed", owner, minimum=0))

    def _linear(self, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """torch.nn.Linear's default initialisation (kaiming_uniform with a = sqrt(5))."""
        bound = 1.0 / np.sqrt(n_in)
        W = self._rng.uniform(-bound, bound, (n_out, n_in)).astype(self.dtype)
        b = self._rng.uniform(-bound, bound, n_out).astype(self.dtype)
        return W, b

    def _inputs(self, X) -> np.ndarray:
        X = _checks.float_array(X, "X", self._owner)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"{self._owner}: X must have shape (n, {self.n_features}), "
                             f"got {X.shape}")
        if X.dtype != self.dtype:
            raise TypeError(f"{self._owner}: X has dtype {X.dtype}, the model {self.dtype}")
        return X

    def _labels(self, y, n: int) -> np.ndarray:
        if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu":
            raise TypeError(f"{self._owner}: y must be an integer numpy array of class labels, "
                            f"got {getattr(y, 'dtype', type(y).__name__)}")
        if y.shape != (n,):
            raise ValueError(f"{self._owner}: y must have shape ({n},), got {y.shape}")
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"{self._owner}: labels must lie in 0..{self.n_classes - 1}, "
                             f"got {y.min()}..{y.max()}")
        return y

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params)


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of softmax(logits) and its gradient wrt the logits:
    :math:`(\mathrm{softmax}(z) - \mathrm{onehot}(y))/n`."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(total)
    loss = -log_probs[np.arange(n), y].mean()
    dlogits = exp / total
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    return float(loss), dlogits


class _Classifier(_Model):
    def predict(self, X) -> np.ndarray:
        """The most likely class of every row."""
        return np.argmax(self.forward(X)[0], axis=1)

    def accuracy(self, X, y) -> float:
        """The fraction of rows classified correctly."""
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        return float(np.mean(self.predict(X) == y))

    def loss_and_grads(self, X, y) -> tuple[float, list[np.ndarray]]:
        """Mean cross-entropy over the rows, and its gradient for each of ``params``."""
        logits, cache = self.forward(X)
        y = self._labels(y, logits.shape[0])
        loss, dlogits = _cross_entropy(logits, y)
        return loss, self.backward(dlogits, cache)

    def evaluate(self, X, y, *,
                 grads: bool = True) -> tuple[float, list[np.ndarray] | None, float]:
        """``(loss, grads, accuracy)`` from one forward pass: what a training record needs.

        The same numbers as :meth:`loss_and_grads` and :meth:`accuracy`, which
        would run the forward pass twice; ``grads=False`` skips the backward
        pass and gives ``None`` (a validation set's record needs no gradient).
        """
        logits, cache = self.forward(X)
        y = self._labels(y, logits.shape[0])
        loss, dlogits = _cross_entropy(logits, y)
        accuracy = float(np.mean(np.argmax(logits, axis=1) == y))
        return loss, (self.backward(dlogits, cache) if grads else None), accuracy


class SoftmaxRegression(_Classifier):
    r"""Multinomial logistic regression: :math:`p(y \mid x) = \mathrm{softmax}(Wx + b)_y`.

    .. math::
        L = -\frac1n \sum_i \log \mathrm{softmax}(W x_i + b)_{y_i}, \qquad
        \frac{\partial L}{\partial W} = \frac1n (P - Y)^\top X, \quad
        \frac{\partial L}{\partial b} = \frac1n \mathbf 1^\top (P - Y)

    with :math:`P` the predicted probabilities and :math:`Y` the one-hot
    labels.  The loss is convex in :math:`(W, b)`.

    ``params`` is ``[W, b]``, with W of shape ``(n_classes, n_features)``.
    """

    def __init__(self, n_features: int, n_classes: int, *, seed: int = 0, dtype=np.float64):
        super().__init__(dtype, seed, "SoftmaxRegression")
        self.n_features = _checks.integer(n_features, "n_features", self._owner, minimum=1)
        self.n_classes = _checks.integer(n_classes, "n_classes", self._owner, minimum=2)
        self.W, self.b = self._linear(self.n_features, self.n_classes)
        self.params = [self.W, self.b]

    def forward(self, X):
        """``(logits, cache)``."""
        X = self._inputs(X)
        return X @ self.W.T + self.b, X

    def backward(self, dlogits, cache) -> list[np.ndarray]:
        X = cache
        return [np.ascontiguousarray(dlogits.T @ X), dlogits.sum(axis=0)]

    def to_torch(self):
        """The same model as a ``torch.nn.Linear`` (a copy of the weights)."""
        import torch

        layer = torch.nn.Linear(self.n_features, self.n_classes, dtype=_torch_dtype(self.dtype))
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(self.W))
            layer.bias.copy_(torch.from_numpy(self.b))
        return layer


class MLP(_Classifier):
    r"""A one-hidden-layer perceptron classifier.

    .. math::
        h = \phi(W_1 x + b_1), \qquad z = W_2 h + b_2, \qquad
        L = -\frac1n \sum_i \log \mathrm{softmax}(z_i)_{y_i}

    with :math:`\phi` = ReLU or tanh.  Backpropagation:
    :math:`\delta_z = (P - Y)/n`, :math:`\partial L/\partial W_2 = \delta_z^\top H`,
    :math:`\delta_h = \delta_z W_2 \odot \phi'(W_1 x + b_1)`,
    :math:`\partial L/\partial W_1 = \delta_h^\top X`.  As in torch, the ReLU's
    derivative at 0 is taken to be 0.

    ``params`` is ``[W1, b1, W2, b2]``, with W1 of shape
    ``(n_hidden, n_features)`` and W2 ``(n_classes, n_hidden)``.
    """

    def __init__(self, n_features: int, n_hidden: int, n_classes: int, *,
                 activation: str = "relu", seed: int = 0, dtype=np.float64):
        super().__init__(dtype, seed, "MLP")
        self.n_features = _checks.integer(n_features, "n_features", self._owner, minimum=1)
        self.n_hidden = _checks.integer(n_hidden, "n_hidden", self._owner, minimum=1)
        self.n_classes = _checks.integer(n_classes, "n_classes", self._owner, minimum=2)
        if activation not in ("relu", "tanh"):
            raise ValueError(f"MLP: activation must be 'relu' or 'tanh', got {activation!r}")
        self.activation = activation
        self.W1, self.b1 = self._linear(self.n_features, self.n_hidden)
        self.W2, self.b2 = self._linear(self.n_hidden, self.n_classes)
        self.params = [self.W1, self.b1, self.W2, self.b2]

    def forward(self, X):
        """``(logits, cache)``."""
        X = self._inputs(X)
        pre = X @ self.W1.T + self.b1
        h = np.maximum(pre, 0) if self.activation == "relu" else np.tanh(pre)
        return h @ self.W2.T + self.b2, (X, pre, h)

    def backward(self, dlogits, cache) -> list[np.ndarray]:
        X, pre, h = cache
        dW2 = dlogits.T @ h
        db2 = dlogits.sum(axis=0)
        dh = dlogits @ self.W2
        dpre = dh * (pre > 0) if self.activation == "relu" else dh * (1 - h * h)
        dW1 = dpre.T @ X
        db1 = dpre.sum(axis=0)
        return [np.ascontiguousarray(g) for g in (dW1, db1, dW2, db2)]

    def to_torch(self):
        """The same network as a ``torch.nn.Sequential`` (a copy of the weights)."""
        import torch

        dt = _torch_dtype(self.dtype)
        net = torch.nn.Sequential(
            torch.nn.Linear(self.n_features, self.n_hidden, dtype=dt),
            torch.nn.ReLU() if self.activation == "relu" else torch.nn.Tanh(),
            torch.nn.Linear(self.n_hidden, self.n_classes, dtype=dt))
        with torch.no_grad():
            for p, ours in zip(net.parameters(), self.params):
                p.copy_(torch.from_numpy(ours))
        return net


class BatchNormMLP(_Classifier):
    r"""A deep ReLU perceptron, with batch normalisation before each non-linearity or without.

    .. math::
        h_0 = x, \qquad h_\ell = \mathrm{ReLU}\big(\mathrm{BN}_\ell(W_\ell h_{\ell-1})\big)
        \ \ (\ell = 1..L), \qquad z = W_{out} h_L + b_{out}

    with :math:`\mathrm{BN}_\ell(u) = \gamma_\ell \hat u + \beta_\ell` as
    :func:`descentlab.layers.batchnorm_forward` computes it (Ioffe & Szegedy
    2015, who place it between the linear map and the non-linearity, where
    a bias would be cancelled by the mean, so hidden layers have none).
    With ``batchnorm=False`` the hidden layers are
    :math:`h_\ell = \mathrm{ReLU}(W_\ell h_{\ell-1} + b_\ell)`, biases starting at 0.

    Hidden weights are Kaiming-normal times ``weight_scale``,
    :math:`W_\ell \sim \mathcal N(0, s^2\cdot 2/n_{in})`, so that ``weight_scale``
    moves the initialisation away from the scale that preserves the signal
    (the experiment of lecture 06); the output layer is initialised as
    torch's ``nn.Linear``.

    Like a torch module, the model has a mode: ``train()`` (the default)
    normalises with the batch's statistics and updates the running ones in
    place on every :meth:`forward`; ``eval()`` normalises with the running
    statistics, so an example's output no longer depends on its batch.
    :func:`descentlab.training.fit` evaluates in eval mode.  In training a
    batch of one example is refused (its variance is 0), as torch refuses it.

    ``params`` is ``[W_1, gamma_1, beta_1, ..., W_L, gamma_L, beta_L, W_out, b_out]``
    (``[W_1, b_1, ...]`` without batch norm), W of shape ``(out, in)``.
    """

    def __init__(self, n_features: int, hidden, n_classes: int, *, batchnorm: bool = True,
                 weight_scale: float = 1.0, momentum: float = 0.1, eps: float = 1e-5,
                 seed: int = 0, dtype=np.float64):
        super().__init__(dtype, seed, "BatchNormMLP")
        owner = self._owner
        self.n_features = _checks.integer(n_features, "n_features", owner, minimum=1)
        if isinstance(hidden, (int, np.integer)) or not hasattr(hidden, "__iter__"):
            raise TypeError(f"{owner}: hidden must be a sequence of layer widths, got {hidden!r}")
        self.hidden = tuple(_checks.integer(h, "hidden", owner, minimum=1) for h in hidden)
        if not self.hidden:
            raise ValueError(f"{owner}: hidden must name at least one layer, got {hidden!r}")
        self.n_classes = _checks.integer(n_classes, "n_classes", owner, minimum=2)
        self.batchnorm = _checks.boolean(batchnorm, "batchnorm", owner)
        self.weight_scale = _checks.positive(weight_scale, "weight_scale", owner)
        self.momentum = _checks.unit_interval(momentum, "momentum", owner, closed=True)
        self.eps = _checks.positive(eps, "eps", owner)
        self.training = True
        self.params = []
        self.running_mean, self.running_var = [], []
        n_in = self.n_features
        for width in self.hidden:
            std = self.weight_scale * np.sqrt(2.0 / n_in)
            self.params.append(self._rng.normal(0.0, std, (width, n_in)).astype(self.dtype))
            if self.batchnorm:
                self.params += [np.ones(width, self.dtype), np.zeros(width, self.dtype)]
                self.running_mean.append(np.zeros(width, self.dtype))
                self.running_var.append(np.ones(width, self.dtype))
            else:
                self.params.append(np.zeros(width, self.dtype))
            n_in = width
        self.params += list(self._linear(n_in, self.n_classes))

    def train(self, mode: bool = True) -> BatchNormMLP:
        """Training mode (batch statistics, running ones updated); returns the model."""
        self.training = _checks.boolean(mode, "mode", self._owner)
        return self

    def eval(self) -> BatchNormMLP:
        """Evaluation mode (running statistics); returns the model."""
        return self.train(False)

    @property
    def _per_layer(self) -> int:
        return 3 if self.batchnorm else 2

    def forward(self, X):
        """``(logits, cache)`` in the current mode."""
        h = self._inputs(X)
        caches = []
        k = self._per_layer
        for layer in range(len(self.hidden)):
            W, *rest = self.params[k * layer:k * (layer + 1)]
            u = h @ W.T
            if self.batchnorm:
                gamma, beta = rest
                u, bn = batchnorm_forward(np.ascontiguousarray(u), gamma, beta,
                                          self.running_mean[layer], self.running_var[layer],
                                          training=self.training, momentum=self.momentum,
                                          eps=self.eps)
            else:
                u, bn = u + rest[0], None
            caches.append((h, bn, u))
            h = np.maximum(u, 0)
        W_out, b_out = self.params[-2:]
        return h @ W_out.T + b_out, (caches, h)

    def backward(self, dlogits, cache) -> list[np.ndarray]:
        caches, h = cache
        W_out = self.params[-2]
        grads = [dlogits.sum(axis=0), dlogits.T @ h]  # built in reverse, flipped at the end
        dh = dlogits @ W_out
        k = self._per_layer
        for layer in reversed(range(len(self.hidden))):
            h_in, bn, u = caches[layer]
            du = dh * (u > 0)  # ReLU'(0) = 0, as in torch
            if self.batchnorm:
                du, dgamma, dbeta = batchnorm_backward(np.ascontiguousarray(du), bn)
                grads += [dbeta, dgamma]
            else:
                grads.append(du.sum(axis=0))
            W = self.params[k * layer]
            grads.append(du.T @ h_in)
            dh = du @ W
        return [np.ascontiguousarray(g) for g in reversed(grads)]

    def to_torch(self):
        """The same network as a ``torch.nn.Sequential`` (a copy of the weights and of
        the running statistics), in the same mode."""
        import torch

        dt = _torch_dtype(self.dtype)
        modules = []
        n_in = self.n_features
        for width in self.hidden:
            modules.append(torch.nn.Linear(n_in, width, bias=not self.batchnorm, dtype=dt))
            if self.batchnorm:
                modules.append(torch.nn.BatchNorm1d(width, eps=self.eps, momentum=self.momentum,
                                                    dtype=dt))
            modules.append(torch.nn.ReLU())
            n_in = width
        modules.append(torch.nn.Linear(n_in, self.n_classes, dtype=dt))
        net = torch.nn.Sequential(*modules)
        with torch.no_grad():
            for p, ours in zip(net.parameters(), self.params):
                p.copy_(torch.from_numpy(ours))
            bns = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)]
            for m, rm, rv in zip(bns, self.running_mean, self.running_var):
                m.running_mean.copy_(torch.from_numpy(rm))
                m.running_var.copy_(torch.from_numpy(rv))
        return net.train(self.training)


class LinearRegression(_Model):
    r"""Least squares, :math:`L(w, b) = \frac{1}{2n}\|Xw + b - y\|^2`.

    :math:`\partial L/\partial w = X^\top r/n`, :math:`\partial L/\partial b = \mathbf 1^\top r/n`
    with the residual :math:`r = Xw + b - y`.  For :func:`descentlab.data.sparse_features`;
    with ``bias=False`` the model is ``Xw`` alone and ``params`` is ``[w]``,
    two weights for the default data, so its loss is a 2-D surface.
    """

    def __init__(self, n_features: int, *, bias: bool = False, seed: int = 0, dtype=np.float64,
                 zero_init: bool = True):
        super().__init__(dtype, seed, "LinearRegression")
        self.n_features = _checks.integer(n_features, "n_features", self._owner, minimum=1)
        self.bias = _checks.boolean(bias, "bias", self._owner)
        W, b = self._linear(self.n_features, 1)
        self.w = np.zeros(self.n_features, self.dtype) if zero_init else W.reshape(-1).copy()
        self.params = [self.w]
        if self.bias:
            self.b = np.zeros(1, self.dtype) if zero_init else b
            self.params.append(self.b)

    def predict(self, X) -> np.ndarray:
        X = self._inputs(X)
        out = X @ self.w
        return out + self.b[0] if self.bias else out

    def loss_and_grads(self, X, y) -> tuple[float, list[np.ndarray]]:
        X = self._inputs(X)
        y = _checks.float_array(y, "y", self._owner)
        if y.shape != (X.shape[0],) or y.dtype != self.dtype:
            raise ValueError(f"{self._owner}: y must have shape ({X.shape[0]},) and dtype "
                             f"{self.dtype}, got {y.shape} and {y.dtype}")
        n = X.shape[0]
        r = self.predict(X) - y
        grads = [np.ascontiguousarray(X.T @ r / n)]
        if self.bias:
            grads.append(np.array([r.sum() / n], dtype=self.dtype))
        return float(0.5 * np.mean(r * r)), grads


def _torch_dtype(dtype: np.dtype):
    import torch

    return torch.float64 if dtype == np.float64 else torch.float32
