"""Demo submissions for ps1_gradient_descent (see descentlab.grading.demo)."""

from descentlab.grading.demo import Submission

MINIBATCH = '''
order = rng.permutation(n)
for start in range(0, n, batch_size):
    yield order[start:start + batch_size]
'''
SGD = "return w - lr * (dw + weight_decay * w)"
EXP = "return lr0 * math.exp(-k * t)"
INV = "return lr0 / (1 + k * t)"
STEP = "return lr0 * drop ** (t // every)"
TRAIN = '''
model = SoftmaxRegression(X.shape[1], 10, seed=seed)
rng = np.random.default_rng(seed)
losses = []
for _ in range(epochs):
    batch_losses = []
    for idx in minibatch_indices(len(y), batch_size, rng):
        loss, grads = model.loss_and_grads(X[idx], y[idx])
        for p, g in zip(model.params, grads):
            p[...] = sgd_step(p, g, lr)
        batch_losses.append(loss)
    losses.append(float(np.mean(batch_losses)))
return model.params, losses
'''
BEST_LR = "h = np.linalg.eigvalsh(A)\nreturn 2.0 / (h[0] + h[-1])"
BEST_RATE = "h = np.linalg.eigvalsh(A)\nreturn (h[-1] - h[0]) / (h[-1] + h[0])"
LARGEST = '''
def reaches(lr):
    w = np.array(w0, dtype=float)
    with np.errstate(all="ignore"):
        for _ in range(budget):
            w = w - lr * loss_and_grad(w)[1]
        loss = loss_and_grad(w)[0]
    return bool(loss <= target)

lo, lr = None, 1e-6
while lr < 1e6:
    if reaches(lr):
        lo = lr
    elif lo is not None:
        break
    lr *= 2
hi = lr
while hi / lo > 1.001:
    mid = (lo * hi) ** 0.5
    lo, hi = (mid, hi) if reaches(mid) else (lo, mid)
return lo
'''
TOTAL_EXP = "return lr0 / (1.0 - math.exp(-k))"
TOTAL_STEP = "return every * lr0 / (1.0 - drop)"
NUMGRAD = '''
grad = np.zeros(x.shape)
flat, g = x.reshape(-1), grad.reshape(-1)
for i in range(flat.size):
    keep = flat[i]
    flat[i] = keep + h
    up = f(x)
    flat[i] = keep - h
    down = f(x)
    flat[i] = keep
    g[i] = (up - down) / (2 * h)
return grad
'''
CORRECT = {"minibatch_indices": MINIBATCH, "sgd_step": SGD, "exponential_decay": EXP,
           "inverse_time_decay": INV, "step_decay": STEP, "train_softmax": TRAIN,
           "best_constant_lr": BEST_LR, "best_contraction": BEST_RATE, "largest_lr": LARGEST,
           "total_step_exponential": TOTAL_EXP, "total_step_step_decay": TOTAL_STEP,
           "numerical_gradient": NUMGRAD}

SUBMISSIONS = {
    "noor": Submission(
        "draws every batch with replacement; training still works, the epoch is wrong; "
        "sgd_step overwrites the caller's w",
        answers={**CORRECT, "minibatch_indices": '''
for start in range(0, n, batch_size):
    yield rng.integers(0, n, size=min(batch_size, n - start))
''', "sgd_step": "w -= lr * (dw + weight_decay * w)\nreturn w",
                 "best_constant_lr": "return 1.0 / np.linalg.eigvalsh(A).max()",
                 "numerical_gradient": '''
grad = np.zeros(x.shape)
base = f(x)
for i in np.ndindex(x.shape):
    old = x[i]
    x[i] = old + h
    grad[i] = (f(x) - base) / h
    x[i] = old
return grad
'''},
        breaks=["test_minibatch_indices_one_epoch", "test_sgd_step_plain",
                "test_sgd_step_weight_decay", "test_best_constant_lr_derived",
                "test_numerical_gradient_gradient"],
        mentions=["sampling with replacement", "w updated in place",
                  "1/L, the safe step, not the best one",
                  "forward differences instead of centred ones"]),
    "tomas": Submission(
        "uses (1 - k)^t for the exponential decay, drops the step schedule one epoch early, "
        "and records each epoch's last batch loss",
        answers={**CORRECT, "exponential_decay": "return lr0 * (1 - k) ** t",
                 "step_decay": "return lr0 * drop ** ((t + 1) // every)",
                 "train_softmax": TRAIN.replace("float(np.mean(batch_losses))",
                                                "float(batch_losses[-1])"),
                 "total_step_exponential": "return lr0 / k  # the integral of lr0 e^{-kt}",
                 "best_contraction": '''
h = np.linalg.eigvalsh(A)
kappa = h[-1] / h[0]
return ((kappa - 1) / (kappa + 1)) ** 2
'''},
        breaks=["test_exponential_decay_values", "test_step_decay_values",
                "test_train_softmax_loss_history", "test_total_step_exponential_derived",
                "test_best_contraction_derived"],
        mentions=["a geometric decay", "the first drop one step early",
                  "the last batch's loss recorded", "the integral lr0/k instead of the sum",
                  "the loss's factor"]),
    "lena": Submission(
        "never yields the last, smaller batch",
        answers={**CORRECT, "minibatch_indices": '''
order = rng.permutation(n)
return [order[i * batch_size:(i + 1) * batch_size] for i in range(n // batch_size)]
''', "largest_lr": '''
def final(lr):
    w = np.array(w0, dtype=float)
    for _ in range(budget):
        w = w - lr * loss_and_grad(w)[1]
    return loss_and_grad(w)[0]

lr = 1e-6
while not final(lr) <= target:   # grow until the target is reached...
    lr *= 1.5
lo, hi = lr / 1.5, lr             # ...then narrow down the edge just found
while hi - lo > 1e-4 * hi:
    mid = (lo + hi) / 2
    if final(mid) <= target:
        hi = mid
    else:
        lo = mid
return hi
''', "total_step_step_decay": "return lr0 / (1 - drop)",
                 "best_contraction": '''
d = np.diag(A)
return (d.max() - d.min()) / (d.max() + d.min())
'''},
        breaks=["test_minibatch_indices_one_epoch", "test_largest_lr_largest",
                "test_total_step_step_decay_derived", "test_best_contraction_derived"],
        mentions=["the last partial batch dropped",
                  "the smallest rate that reaches the target, not the largest",
                  "each rate counted once instead of for `every` epochs",
                  "the diagonal of A used instead of its eigenvalues"]),
    "kofi": Submission(
        "adds weight decay without the learning rate; leaves the model at its default seed",
        answers={**CORRECT, "sgd_step": "return w - lr * dw - weight_decay * w",
                 "train_softmax": TRAIN.replace("10, seed=seed)", "10)"),
                 "numerical_gradient": '''
grad = np.zeros_like(x, dtype=float)
for i in np.ndindex(x.shape):
    x[i] += h
    up = f(x)
    x[i] -= 2 * h
    down = f(x)
    grad[i] = (up - down) / (2 * h)
return grad
'''},
        breaks=["test_sgd_step_weight_decay", "test_train_softmax_loss_history",
                "test_numerical_gradient_gradient", "test_numerical_gradient_restores_x"],
        mentions=["weight decay not multiplied by the learning rate",
                  "the model not seeded with seed", "x left perturbed"]),
    "mira": Submission(
        "correct, written differently: an explicit shuffle, in-place updates on a copy, a list of "
        "batches, a running sum for the epoch's loss",
        answers={
            "minibatch_indices": '''
idx = np.arange(n)
rng.shuffle(idx)
batches = []
while idx.size:
    batches.append(idx[:batch_size])
    idx = idx[batch_size:]
return batches
''',
            "sgd_step": '''
out = w.copy()
out *= 1 - lr * weight_decay
out -= lr * dw
return out
''',
            "best_constant_lr": '''
curvatures = sorted(np.linalg.eig(A)[0].real)
m, L = curvatures[0], curvatures[-1]
return float(1 / ((m + L) / 2))   # the step that makes 1 - eta m = -(1 - eta L)
''',
            "best_contraction": '''
curvatures = np.linalg.svd(A, compute_uv=False)   # A is symmetric positive definite
kappa = curvatures.max() / curvatures.min()
return 1 - 2 / (kappa + 1)
''',
            "largest_lr": '''
def loss_after(lr):
    w = w0.copy()
    for _ in range(budget):
        _, g = loss_and_grad(w)
        w -= lr * g
    return loss_and_grad(w)[0]

grid = 10.0 ** np.arange(-8, 4, 0.25)
losses = [loss_after(lr) for lr in grid]
ok = [lr for lr, loss in zip(grid, losses) if np.isfinite(loss) and loss <= target]
good, bad = ok[-1], ok[-1] * 10 ** 0.25
for _ in range(30):
    mid = (good + bad) / 2
    if np.isfinite(loss_after(mid)) and loss_after(mid) <= target:
        good = mid
    else:
        bad = mid
return good
''',
            "total_step_exponential": "return lr0 * math.exp(k) / (math.exp(k) - 1)",
            "total_step_step_decay": "per_period = lr0 * every\nreturn per_period * (1 / (1 - drop))",
            "numerical_gradient": '''
out = np.empty(x.shape)
for i in np.ndindex(*x.shape):
    e = np.zeros(x.shape)
    e[i] = h
    out[i] = (f(x + e) - f(x - e)) / (2 * h)
return out
''',
            "exponential_decay": "return lr0 / math.exp(k * t)",
            "inverse_time_decay": "return 1.0 / (1.0 / lr0 + (k / lr0) * t)",
            "step_decay": '''
lr = lr0
for _ in range(int(t) // int(every)):
    lr = lr * drop
return lr
''',
            "train_softmax": '''
model = SoftmaxRegression(X.shape[1], 10, seed=seed)
W, b = model.params
rng = np.random.default_rng(seed)
history = []
for epoch in range(epochs):
    total, count = 0.0, 0
    for idx in minibatch_indices(len(y), batch_size, rng):
        loss, (dW, db) = model.loss_and_grads(X[idx], y[idx])
        W[...] = sgd_step(W, dW, lr)
        b[...] = sgd_step(b, db, lr)
        total, count = total + loss, count + 1
    history.append(total / count)
return [W, b], history
'''},
        breaks=[]),
    "rex": Submission(
        "trains with descentlab.optim.SGD instead of his own step; his learning-rate search "
        "updates w0 in place, so every trial run starts where the last one ended",
        answers={**CORRECT, "largest_lr": LARGEST.replace(
            "    w = np.array(w0, dtype=float)\n", "    w = w0\n").replace(
            "            w = w - lr * loss_and_grad(w)[1]", "            w -= lr * loss_and_grad(w)[1]"),
                 "train_softmax": '''
from descentlab.optim import SGD
model = SoftmaxRegression(X.shape[1], 10, seed=seed)
opt = SGD(model.params, lr=lr)
rng = np.random.default_rng(seed)
losses = []
for _ in range(epochs):
    batch = []
    for idx in minibatch_indices(len(y), batch_size, rng):
        loss, grads = model.loss_and_grads(X[idx], y[idx])
        opt.step(grads)
        batch.append(loss)
    losses.append(float(np.mean(batch)))
return model.params, losses
'''},
        breaks=["test_train_softmax_loss_history", "test_train_softmax_accuracy",
                "test_largest_lr_reaches", "test_largest_lr_largest"],
        mentions=["no credit", "w0 updated in place"], flags=["reference-call"]),
    "vic": Submission(
        "adds the gradient instead of subtracting it, so training diverges, and replaces "
        "check() so that every test prints 'passed'",
        answers={**CORRECT, "sgd_step": "return w + lr * (dw + weight_decay * w)"},
        added_cells=['''
import descentlab.grading
descentlab.grading.check = check = lambda *args, **kwargs: print("passed")
'''],
        breaks=["test_sgd_step_plain", "test_sgd_step_weight_decay",
                "test_train_softmax_loss_history", "test_train_softmax_accuracy"],
        mentions=["the step goes uphill", "re-checked outside your notebook"],
        flags=["lowered"]),
}
