"""Demo submissions for ps6_tuning (see descentlab.grading.demo)."""

from descentlab.grading.demo import Submission

LOG_UNIFORM = '''
return np.exp(rng.uniform(np.log(low), np.log(high), size))
'''
RANDOM_SEARCH = '''
best, best_score = None, -math.inf
for _ in range(trials):
    point = {}
    for name, (low, high, scale) in space.items():
        if scale == "log":
            point[name] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        else:
            point[name] = float(rng.uniform(low, high))
    score = objective(**point)
    if score > best_score:
        best, best_score = point, score
return best
'''
RANGE_TEST = '''
lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
w, losses = np.array(w0, dtype=float), []
for lr in lrs:
    loss, grad = loss_and_grad(w)
    losses.append(loss)
    if not math.isfinite(loss) or loss > 4 * min(losses):
        break
    w = w - lr * grad
return float(lrs[int(np.argmin(losses))] / 10)
'''
STRATIFIED = '''
y = np.asarray(y)
position = np.empty(y.size)
for c in np.unique(y):
    members = np.flatnonzero(y == c)
    members = members[rng.permutation(members.size)]
    position[members] = (np.arange(members.size) + rng.random(members.size)) / members.size
order = np.argsort(position, kind="stable")
return [order[i:i + batch_size] for i in range(0, y.size, batch_size)]
'''
CORRECT = {"log_uniform": LOG_UNIFORM, "random_search": RANDOM_SEARCH,
           "lr_range_test": RANGE_TEST, "stratified_batches": STRATIFIED}

SUBMISSIONS = {
    "noor": Submission(
        "samples the learning rate uniformly between the bounds",
        answers={**CORRECT, "log_uniform": "return rng.uniform(low, high, size)"},
        breaks=["test_log_uniform_distribution"],
        mentions=["uniform instead of log-uniform"]),
    "tomas": Submission(
        "returns the last point of the search, not the best",
        answers={**CORRECT, "random_search": RANDOM_SEARCH.replace(
            "return best", "return point")},
        breaks=["test_random_search_budget", "test_random_search_accuracy"],
        mentions=["the last trial returned instead of the best"]),
    "lena": Submission(
        "returns the rate at the lowest loss, forgetting to step back a decade",
        answers={**CORRECT, "lr_range_test": RANGE_TEST.replace(" / 10)", ")")},
        breaks=["test_lr_range_test_usable"],
        mentions=["the rate at the lowest loss, not a tenth of it"]),
    "kofi": Submission(
        "drops the last partial batch and samples every axis uniformly",
        answers={**CORRECT,
                 "stratified_batches": STRATIFIED.replace(
                     "range(0, y.size, batch_size)", "range(0, y.size - batch_size + 1, batch_size)"),
                 "random_search": RANDOM_SEARCH.replace(
                     'if scale == "log":', 'if False:')},
        breaks=["test_stratified_batches_epoch", "test_random_search_sampling"],
        mentions=["the last, partial batch dropped", "uniform sampling on a log axis"]),
    "mira": Submission(
        "correct, written differently: base-10 logs, a comprehension, a while loop, counts per batch",
        answers={
            "log_uniform": '''
exponents = rng.uniform(math.log10(low), math.log10(high), size=size)
return 10.0 ** exponents
''',
            "random_search": '''
def draw(low, high, scale):
    if scale == "log":
        return 10 ** rng.uniform(math.log10(low), math.log10(high))
    return rng.uniform(low, high)

tried = []
for _ in range(trials):
    point = {name: float(draw(*spec)) for name, spec in space.items()}
    tried.append((objective(**point), point))
return max(tried, key=lambda pair: pair[0])[1]
''',
            "lr_range_test": '''
ratio = (lr_max / lr_min) ** (1 / (steps - 1))
w = w0.copy()
lr, best_loss, best_lr, k = lr_min, math.inf, lr_min, 0
while k < steps:
    loss, grad = loss_and_grad(w)
    if not np.isfinite(loss) or loss > 4 * min(best_loss, loss):
        break
    if loss < best_loss:
        best_loss, best_lr = loss, lr
    w -= lr * grad
    lr *= ratio
    k += 1
return best_lr / 10
''',
            "stratified_batches": '''
y = np.asarray(y)
n = len(y)
keys = np.zeros(n)
for label in set(y.tolist()):
    idx = np.where(y == label)[0]
    rng.shuffle(idx)
    keys[idx] = (np.arange(len(idx)) + rng.uniform(size=len(idx))) / len(idx)
order = np.argsort(keys)
batches = []
start = 0
while start < n:
    batches.append(order[start:start + batch_size])
    start += batch_size
return batches
'''},
        breaks=[]),
    "rex": Submission(
        "draws with descentlab.tuning.log_uniform",
        answers={**CORRECT, "log_uniform": '''
from descentlab.tuning import log_uniform as reference
return reference(low, high, size, rng)
'''},
        breaks=["test_log_uniform_distribution"], mentions=["no credit"], flags=["reference-call"]),
    "vic": Submission(
        "returns the worst point of the search, and deletes the search's budget test",
        answers={**CORRECT, "random_search": RANDOM_SEARCH.replace(
            "score > best_score", "score < best_score").replace("-math.inf", "math.inf")},
        test_edits={"test_random_search_budget": None},
        breaks=["test_random_search_budget", "test_random_search_accuracy"]),
}
