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
CORRECT = {"minibatch_indices": MINIBATCH, "sgd_step": SGD, "exponential_decay": EXP,
           "inverse_time_decay": INV, "step_decay": STEP, "train_softmax": TRAIN}

SUBMISSIONS = {
    "noor": Submission(
        "draws every batch with replacement; training still works, the epoch is wrong; "
        "sgd_step overwrites the caller's w",
        answers={**CORRECT, "minibatch_indices": '''
for start in range(0, n, batch_size):
    yield rng.integers(0, n, size=min(batch_size, n - start))
''', "sgd_step": "w -= lr * (dw + weight_decay * w)\nreturn w"},
        breaks=["test_minibatch_indices_one_epoch", "test_sgd_step_plain",
                "test_sgd_step_weight_decay"],
        mentions=["sampling with replacement", "w updated in place"]),
    "tomas": Submission(
        "uses (1 - k)^t for the exponential decay, drops the step schedule one epoch early, "
        "and records each epoch's last batch loss",
        answers={**CORRECT, "exponential_decay": "return lr0 * (1 - k) ** t",
                 "step_decay": "return lr0 * drop ** ((t + 1) // every)",
                 "train_softmax": TRAIN.replace("float(np.mean(batch_losses))",
                                                "float(batch_losses[-1])")},
        breaks=["test_exponential_decay_values", "test_step_decay_values",
                "test_train_softmax_loss_history"],
        mentions=["a geometric decay", "the first drop one step early",
                  "the last batch's loss recorded"]),
    "lena": Submission(
        "never yields the last, smaller batch",
        answers={**CORRECT, "minibatch_indices": '''
order = rng.permutation(n)
return [order[i * batch_size:(i + 1) * batch_size] for i in range(n // batch_size)]
'''},
        breaks=["test_minibatch_indices_one_epoch"],
        mentions=["the last partial batch dropped"]),
    "kofi": Submission(
        "adds weight decay without the learning rate; leaves the model at its default seed",
        answers={**CORRECT, "sgd_step": "return w - lr * dw - weight_decay * w",
                 "train_softmax": TRAIN.replace("10, seed=seed)", "10)")},
        breaks=["test_sgd_step_weight_decay", "test_train_softmax_loss_history"],
        mentions=["weight decay not multiplied by the learning rate",
                  "the model not seeded with seed"]),
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
        "trains with descentlab.optim.SGD instead of his own step",
        answers={**CORRECT, "train_softmax": '''
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
        breaks=["test_train_softmax_loss_history", "test_train_softmax_accuracy"],
        mentions=["no credit"], flags=["reference-call"]),
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
