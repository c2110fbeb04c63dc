"""Demo submissions for ps5_init_bn_dropout (see descentlab.grading.demo)."""

from descentlab.grading.demo import Submission

XAVIER = '''
receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
return rng.uniform(-bound, bound, size=shape)
'''
KAIMING = '''
gain = {"relu": math.sqrt(2.0), "tanh": 5.0 / 3, "linear": 1.0}[nonlinearity]
receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
return rng.normal(0.0, gain / math.sqrt(shape[1] * receptive), size=shape)
'''
BN_FORWARD = '''
if training:
    mu, var = x.mean(axis=0), x.var(axis=0)
    n = x.shape[0]
    running_mean[...] = (1 - momentum) * running_mean + momentum * mu
    running_var[...] = (1 - momentum) * running_var + momentum * var * n / (n - 1)
else:
    mu, var = running_mean.copy(), running_var.copy()
inv_std = 1.0 / np.sqrt(var + eps)
xhat = (x - mu) * inv_std
return gamma * xhat + beta, (xhat, gamma, inv_std, training)
'''
BN_BACKWARD = '''
xhat, gamma, inv_std, training = cache
dbeta = dout.sum(axis=0)
dgamma = (dout * xhat).sum(axis=0)
dxhat = dout * gamma
if not training:
    return dxhat * inv_std, dgamma, dbeta
n = dout.shape[0]
dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
return dx, dgamma, dbeta
'''
DROPOUT_FORWARD = '''
if not training:
    return x.copy(), None
mask = (rng.random(x.shape) >= p) / (1 - p)
return x * mask, mask
'''
DROPOUT_BACKWARD = "return dout.copy() if cache is None else dout * cache"
STDS = '''
rng = np.random.default_rng(rng)
a = rng.standard_normal((batch, width))
out = np.empty(depth)
for layer in range(depth):
    h = a @ rng.normal(0.0, weight_std, (width, width)).T
    a = np.maximum(h, 0.0) if nonlinearity == "relu" else np.tanh(h)
    out[layer] = a.std()
return out
'''
STABLE = '''
stable = []
for scheme in SCHEMES:
    stds = np.mean([activation_stds(scheme_std(scheme, nonlinearity, 64), nonlinearity, rng=s)
                    for s in range(8)], axis=0)
    if stds.max() <= 2.0 * stds.min():
        stable.append(scheme)
return stable
'''
NUMGRAD = '''
grad = np.empty(x.shape)
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
CORRECT = {"xavier_uniform": XAVIER, "kaiming_normal": KAIMING, "batchnorm_forward": BN_FORWARD,
           "batchnorm_backward": BN_BACKWARD, "dropout_forward": DROPOUT_FORWARD,
           "dropout_backward": DROPOUT_BACKWARD, "activation_stds": STDS,
           "stable_schemes": STABLE, "numerical_gradient": NUMGRAD}

SUBMISSIONS = {
    "noor": Submission(
        "Xavier's bound from fan_in alone",
        answers={**CORRECT, "xavier_uniform": '''
receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
bound = gain * math.sqrt(3.0 / (shape[1] * receptive))
return rng.uniform(-bound, bound, size=shape)
'''},
        breaks=["test_xavier_uniform_distribution"],
        mentions=["Xavier with fan_in only"]),
    "tomas": Submission(
        "uses tanh's gain, 5/3, for every nonlinearity",
        answers={**CORRECT, "kaiming_normal": '''
receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
return rng.normal(0.0, (5 / 3) / math.sqrt(shape[1] * receptive), size=shape)
'''},
        breaks=["test_kaiming_normal_distribution"],
        mentions=["Kaiming with the tanh gain"]),
    "lena": Submission(
        "normalises with the unbiased variance (and so corrects the stored variance twice); "
        "her backward pass, fed her forward's cache, is off too",
        answers={**CORRECT,
                 "batchnorm_forward": BN_FORWARD.replace("x.var(axis=0)", "x.var(axis=0, ddof=1)")},
        breaks=["test_batchnorm_forward_train_forward", "test_batchnorm_forward_running_stats",
                "test_batchnorm_backward_train_gradients"],
        mentions=["BatchNorm normalising with the unbiased variance"]),
    "kofi": Submission(
        "multiplies the kept units by p",
        answers={**CORRECT, "dropout_forward": DROPOUT_FORWARD.replace("/ (1 - p)", "* p")},
        breaks=["test_dropout_forward_forward", "test_dropout_backward_backward"],
        mentions=["dropout scaled by p instead of 1/(1-p)"]),
    "mira": Submission(
        "correct, written differently: explicit fans, a two-pass variance, a boolean mask",
        answers={
            "xavier_uniform": '''
fan_in = shape[1] * math.prod(shape[2:])
fan_out = shape[0] * math.prod(shape[2:])
std = gain * math.sqrt(2.0 / (fan_in + fan_out))
return (rng.random(shape) * 2.0 - 1.0) * (std * math.sqrt(3.0))
''',
            "kaiming_normal": '''
gains = {"linear": 1.0, "tanh": 5 / 3, "relu": 2 ** 0.5}
std = gains[nonlinearity] / (shape[1] * math.prod(shape[2:])) ** 0.5
return std * rng.standard_normal(shape)
''',
            "batchnorm_forward": '''
n = x.shape[0]
if training:
    mu = x.sum(axis=0) / n
    centred = x - mu
    var = (centred ** 2).sum(axis=0) / n
    running_mean *= 1 - momentum
    running_mean += momentum * mu
    running_var *= 1 - momentum
    running_var += momentum * (centred ** 2).sum(axis=0) / (n - 1)
else:
    mu, var = running_mean.copy(), running_var.copy()
xhat = (x - mu) / np.sqrt(var + eps)
return xhat * gamma + beta, {"xhat": xhat, "gamma": gamma, "std": np.sqrt(var + eps),
                             "training": training}
''',
            "batchnorm_backward": '''
xhat, std = cache["xhat"], cache["std"]
dgamma = np.einsum("nd,nd->d", dout, xhat)
dbeta = dout.sum(axis=0)
g = dout * cache["gamma"]
if not cache["training"]:
    return g / std, dgamma, dbeta
return (g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0)) / std, dgamma, dbeta
''',
            "dropout_forward": '''
if not training:
    return np.array(x, copy=True), None
keep = rng.random(x.shape) < 1 - p
return np.where(keep, x / (1 - p), 0.0), (keep, 1 / (1 - p))
''',
            "dropout_backward": '''
if cache is None:
    return dout.copy()
keep, scale = cache
return np.where(keep, dout * scale, 0.0)
''',
            "activation_stds": '''
gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
phi = {"relu": lambda z: z * (z > 0), "tanh": np.tanh}[nonlinearity]
act = gen.normal(size=(batch, width))
stds = []
for _ in range(depth):
    weights = weight_std * gen.standard_normal((width, width))
    act = phi(np.einsum("bi,oi->bo", act, weights))
    stds.append(float(np.sqrt(np.mean((act - act.mean()) ** 2))))
return np.asarray(stds)
''',
            "stable_schemes": '''
def spread(scheme):
    runs = [activation_stds(scheme_std(scheme, nonlinearity, 64), nonlinearity, 20, 64, 128,
                            np.random.default_rng(100 + k)) for k in range(8)]
    mean = np.mean(runs, axis=0)
    return mean.max() / mean.min()
return [s for s in SCHEMES if spread(s) <= 2]
''',
            "numerical_gradient": '''
grad = np.zeros_like(x, dtype=float)
for idx in np.ndindex(*x.shape):
    old = x[idx]
    x[idx] = old + h
    fp = f(x)
    x[idx] = old - h
    fm = f(x)
    x[idx] = old
    grad[idx] = (fp - fm) / (2 * h)
return grad
'''},
        breaks=[]),
    "rex": Submission(
        "wraps descentlab.layers for BatchNorm",
        answers={**CORRECT, "batchnorm_forward": '''
from descentlab.layers import batchnorm_forward as reference
return reference(x, gamma, beta, running_mean, running_var, training, momentum, eps)
''', "batchnorm_backward": '''
from descentlab.layers import batchnorm_backward as reference
return reference(dout, cache)
'''},
        breaks=["test_batchnorm_forward_train_forward", "test_batchnorm_forward_running_stats",
                "test_batchnorm_forward_eval_forward", "test_batchnorm_backward_train_gradients",
                "test_batchnorm_backward_eval_gradients"],
        mentions=["no credit"], flags=["reference-call"]),
    "vic": Submission(
        "stores the biased variance in running_var, and silences the checks from his own cell",
        answers={**CORRECT, "batchnorm_forward": BN_FORWARD.replace(" * n / (n - 1)", "")},
        added_cells=['''
import descentlab.grading as grading
grading.check = check = lambda *args, **kwargs: None
'''],
        breaks=["test_batchnorm_forward_running_stats"],
        mentions=["the running variance stored biased", "re-checked outside your notebook"],
        flags=["lowered"]),
    "ines": Submission(
        "derives the BatchNorm backward pass but drops the path through the batch variance",
        answers={**CORRECT, "batchnorm_backward": BN_BACKWARD.replace(
            " - xhat * (dxhat * xhat).sum(axis=0)", "")},
        breaks=["test_batchnorm_backward_train_gradients"],
        mentions=["the path through the batch variance left out"]),
    "olu": Submission(
        "a one-sided gradient check, and activation stds measured before the ReLU/tanh",
        answers={**CORRECT, "numerical_gradient": '''
grad = np.empty(x.shape)
base = f(x)
for i in np.ndindex(*x.shape):
    keep = x[i]
    x[i] = keep + h
    grad[i] = (f(x) - base) / h
    x[i] = keep
return grad
''', "activation_stds": STDS.replace(
            "    a = np.maximum(h, 0.0) if nonlinearity == \"relu\" else np.tanh(h)\n"
            "    out[layer] = a.std()",
            "    out[layer] = h.std()\n"
            "    a = np.maximum(h, 0.0) if nonlinearity == \"relu\" else np.tanh(h)"),
            "stable_schemes": 'return ["kaiming"] + (["large"] if nonlinearity == "tanh" else [])'},
        breaks=["test_numerical_gradient_gradient", "test_activation_stds_measurement"],
        mentions=["forward differences instead of centred ones",
                  "the pre-activations measured instead of the activations"]),
    "pia": Submission(
        "answers Kaiming alone without measuring, and leaves x perturbed in her gradient check",
        answers={**CORRECT, "stable_schemes": 'return ["kaiming"]',
                 "numerical_gradient": '''
grad = np.empty(x.shape)
for i in np.ndindex(*x.shape):
    x[i] += h
    up = f(x)
    x[i] -= 2 * h
    grad[i] = (up - f(x)) / (2 * h)
return grad
'''},
        breaks=["test_stable_schemes_choice", "test_numerical_gradient_gradient",
                "test_numerical_gradient_restores_x"],
        mentions=["a saturated tanh left out", "x left perturbed"]),
}
