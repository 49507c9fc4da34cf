"""Reference values for tests/metrics_test.ts, computed with scikit-learn.

Writes tests/fixtures/metrics_sklearn.json: random binary and multiclass cases (ties in the
scores, a class absent from the predictions, a predicted class absent from the truth,
non-contiguous labels, label subsets) with what scikit-learn returns for them.

    sudo apt-get install -y python3-sklearn      # Debian 12: scikit-learn 1.2.1, numpy 1.24
    /usr/bin/python3 scripts/make_metrics_fixtures.py

Two deliberate adjustments, both toward current scikit-learn (>= 1.3):
- roc_curve's first threshold is written as +inf (1.2 writes max(score) + 1);
- no case averages over labels that all have zero support (1.2 and 1.3+ disagree there);
- no report for a `labels` superset of the present labels (1.2 prints "micro avg", newer
  versions "accuracy", which equals it).
ECE is not in scikit-learn; its reference here is a direct numpy transcription of Guo et al.
(2017), bins (b/M, (b+1)/M] over the top-label confidence.

Python is only used here, to make the references; the metrics are plain TypeScript.
"""

import json
import os
import warnings

import numpy as np
import sklearn
from sklearn import metrics as skm

warnings.filterwarnings("ignore")  # zero-division warnings are expected in some cases

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics_sklearn.json")


def f(x):
    """A float for JSON: +-inf and nan as strings (JSON has no token for them)."""
    x = float(x)
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def fl(a):
    return [f(v) for v in np.asarray(a, dtype=float).ravel()]


def ints(a):
    return [int(v) for v in np.asarray(a).ravel()]


def label_case(name, y_true, y_pred, labels=None, pos_label=None, target_names=None, report=True):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    present = np.unique(np.concatenate([y_true, y_pred]))
    binary = len(present) <= 2
    case = {"name": name, "y_true": ints(y_true), "y_pred": ints(y_pred)}
    if labels is not None:
        case["labels"] = ints(labels)
    exp = {}
    if labels is None:
        exp["accuracy"] = f(skm.accuracy_score(y_true, y_pred))
        exp["accuracy_count"] = f(skm.accuracy_score(y_true, y_pred, normalize=False))
        exp["balanced_accuracy"] = f(skm.balanced_accuracy_score(y_true, y_pred))
        exp["balanced_accuracy_adjusted"] = f(skm.balanced_accuracy_score(y_true, y_pred, adjusted=True))
    cm = {}
    for norm in [None, "true", "pred", "all"]:
        cm[str(norm)] = [fl(row) for row in skm.confusion_matrix(y_true, y_pred, labels=labels, normalize=norm)]
    exp["confusion_matrix"] = cm
    exp["kappa"] = {
        str(w): f(skm.cohen_kappa_score(y_true, y_pred, labels=labels, weights=w)) for w in [None, "linear", "quadratic"]
    }
    prfs = {}
    averages = [None, "micro", "macro", "weighted"] + (["binary"] if binary and labels is None else [])
    for avg in averages:
        for zd in ["warn", 0, 1]:
            kw = {"average": avg, "zero_division": zd, "labels": labels}
            if avg == "binary" and pos_label is not None:
                kw["pos_label"] = pos_label
            p, r, fs, s = skm.precision_recall_fscore_support(y_true, y_pred, **kw)
            f2 = skm.fbeta_score(y_true, y_pred, beta=2.0, **kw)
            entry = {"precision": fl(p), "recall": fl(r), "fscore": fl(fs), "f2": fl(f2)}
            if s is not None:
                entry["support"] = ints(s)
            prfs[f"{avg}|{zd}"] = entry
    exp["prfs"] = prfs
    reports = {}
    for digits in ([2, 4] if report else []):
        kw = {"labels": labels, "digits": digits, "target_names": target_names}
        reports[str(digits)] = {
            "text": skm.classification_report(y_true, y_pred, **kw),
            "dict": skm.classification_report(y_true, y_pred, output_dict=True, **kw),
        }
    exp["report"] = reports
    if target_names is not None:
        case["target_names"] = target_names
    if pos_label is not None:
        case["pos_label"] = pos_label
    case["expected"] = exp
    return case


def roc_curve_json(y, s, **kw):
    fpr, tpr, thr = skm.roc_curve(y, s, **kw)
    thr = np.asarray(thr, dtype=float).copy()
    thr[0] = np.inf  # scikit-learn >= 1.3
    return {"fpr": fl(fpr), "tpr": fl(tpr), "thresholds": fl(thr)}


def binary_rank_case(name, y, s, pos_label=None):
    y = np.asarray(y)
    s = np.asarray(s, dtype=float)
    kw = {} if pos_label is None else {"pos_label": pos_label}
    exp = {
        "roc_curve": roc_curve_json(y, s, **kw),
        "roc_curve_all": roc_curve_json(y, s, drop_intermediate=False, **kw),
    }
    if len(np.unique(y)) == 2:
        exp["roc_auc"] = f(skm.roc_auc_score(y, s))
        exp["roc_auc_max_fpr_0.3"] = f(skm.roc_auc_score(y, s, max_fpr=0.3))
    case = {"name": name, "y_true": ints(y), "scores": fl(s), "expected": exp}
    if pos_label is not None:
        case["pos_label"] = pos_label
    return case


def multiclass_rank_case(name, y, probs):
    y = np.asarray(y)
    probs = np.asarray(probs, dtype=float)
    exp = {}
    for mc in ["ovr", "ovo"]:
        for avg in ["macro", "weighted"]:
            exp[f"{mc}|{avg}"] = f(skm.roc_auc_score(y, probs, multi_class=mc, average=avg))
    exp["ovr|None"] = fl(skm.roc_auc_score(y, probs, multi_class="ovr", average=None))
    return {"name": name, "y_true": ints(y), "scores": [fl(row) for row in probs], "expected": exp}


def ece_reference(y, probs, n_bins):
    probs = np.asarray(probs, dtype=float)
    if probs.ndim == 1:
        pred = (probs > 0.5).astype(int)
        conf = np.where(pred == 1, probs, 1 - probs)
    else:
        pred = probs.argmax(axis=1)
        conf = probs.max(axis=1)
    correct = pred == np.asarray(y)
    edges = np.arange(n_bins + 1) / n_bins
    ece = 0.0
    counts, accs, confs = [], [], []
    for b in range(n_bins):
        lo, hi = edges[b], edges[b + 1]
        m = (conf > lo) & (conf <= hi) if b > 0 else (conf <= hi)
        counts.append(int(m.sum()))
        if m.any():
            accs.append(f(correct[m].mean()))
            confs.append(f(conf[m].mean()))
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
        else:
            accs.append("nan")
            confs.append("nan")
    return {"ece": f(ece), "count": counts, "accuracy": accs, "confidence": confs}


def noisy_predictions(rng, y, n_classes, p_correct):
    pred = y.copy()
    flip = rng.random(len(y)) > p_correct
    pred[flip] = rng.integers(0, n_classes, flip.sum())
    return pred


def tied_probs(rng, n, c):
    """Rows of small-integer weights normalised: many exactly tied probabilities."""
    w = rng.integers(1, 6, size=(n, c)).astype(float)
    return w / w.sum(axis=1, keepdims=True)


def informative_probs(rng, y, c, strength):
    logits = rng.normal(size=(len(y), c))
    logits[np.arange(len(y)), y] += strength
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(20240607)
    label_cases = []
    label_cases.append(label_case("reference", [0, 1, 2, 3, 4, 0, 1, 2, 3, 4], [0, 2, 2, 3, 3, 0, 1, 1, 4, 4]))

    y = rng.integers(0, 4, 50)
    label_cases.append(label_case("multiclass-4", y, noisy_predictions(rng, y, 4, 0.6),
                                  target_names=["normal", "benign <tumour>", "malignant & co", "other"]))

    y = rng.integers(0, 5, 40)
    pred = noisy_predictions(rng, y, 5, 0.5)
    pred[pred == 3] = 4  # class 3 never predicted
    label_cases.append(label_case("absent-in-pred", y, pred))

    y = rng.choice([0, 1, 3], 30)  # class 2 predicted but never true
    pred = noisy_predictions(rng, y, 4, 0.5)
    pred[:3] = 2
    label_cases.append(label_case("absent-in-true", y, pred))

    y = rng.integers(0, 2, 30)
    label_cases.append(label_case("binary", y, noisy_predictions(rng, y, 2, 0.7)))

    y = rng.choice([1, 2], 25)
    pred = np.where(rng.random(25) < 0.7, y, 3 - y)
    label_cases.append(label_case("binary-pos2", y, pred, pos_label=2))

    y = rng.integers(0, 2, 12)
    label_cases.append(label_case("binary-no-positive-pred", y, np.zeros(12, dtype=int)))

    y = rng.integers(0, 4, 60)
    label_cases.append(label_case("labels-subset", y, noisy_predictions(rng, y, 4, 0.5), labels=[2, 0]))

    y = rng.choice([0, 2, 5], 45)
    pred = np.where(rng.random(45) < 0.6, y, rng.choice([0, 2, 5], 45))
    label_cases.append(label_case("non-contiguous", y, pred))

    y = rng.integers(0, 5, 40)
    label_cases.append(label_case("labels-superset", y, noisy_predictions(rng, y, 5, 0.5), labels=[0, 1, 2, 3, 4, 5, 6],
                                  report=False))

    y = rng.integers(0, 7, 500)
    label_cases.append(label_case("multiclass-7-large", y, noisy_predictions(rng, y, 7, 0.4)))

    binary_cases = []
    y = rng.integers(0, 2, 40)
    s = np.round(np.clip(0.3 * y + rng.random(40) * 0.7, 0, 1), 1)  # one decimal: many ties
    binary_cases.append(binary_rank_case("binary-ties", y, s))

    y = rng.integers(0, 2, 60)
    binary_cases.append(binary_rank_case("binary-logits", y, rng.normal(size=60) + 1.0 * y))

    y = rng.choice([-1, 1], 35)
    binary_cases.append(binary_rank_case("binary-minus-one", y, np.round(rng.random(35) + 0.2 * y, 2)))

    y = rng.choice([3, 7], 30)
    binary_cases.append(binary_rank_case("binary-pos7", y, np.round(rng.random(30) + 0.05 * y, 1), pos_label=7))

    y = rng.integers(0, 3, 30)  # multiclass y_true with an explicit positive class: class 2 vs rest
    binary_cases.append(binary_rank_case("multiclass-pos2", y, np.round(rng.random(30) + 0.3 * (y == 2), 1), pos_label=2))

    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    binary_cases.append(binary_rank_case("binary-constant-score", y, np.full(8, 0.5)))

    multi_cases = []
    for c, n in [(3, 40), (4, 80), (5, 120)]:
        y = rng.integers(0, c, n)
        y[:c] = np.arange(c)  # every class present
        multi_cases.append(multiclass_rank_case(f"ties-{c}", y, tied_probs(rng, n, c)))
        y = rng.integers(0, c, n)
        y[:c] = np.arange(c)
        multi_cases.append(multiclass_rank_case(f"softmax-{c}", y, informative_probs(rng, y, c, 1.5)))

    two_col = []
    y = rng.integers(0, 2, 40)
    p1 = np.round(rng.random(40) * 0.6 + 0.4 * y, 2)
    probs = np.stack([1 - p1, p1], axis=1)
    two_col.append({"name": "two-column", "y_true": ints(y), "scores": [fl(r) for r in probs],
                    "expected": {"roc_auc": f(skm.roc_auc_score(y, probs[:, 1]))}})

    ece_cases = []
    for c, n in [(4, 200), (10, 300)]:
        y = rng.integers(0, c, n)
        probs = informative_probs(rng, y, c, 2.0)
        ece_cases.append({"name": f"ece-{c}", "y_true": ints(y), "probs": [fl(r) for r in probs],
                          "expected": {str(b): ece_reference(y, probs, b) for b in [15, 10]}})
    y = rng.integers(0, 2, 100)
    p1 = np.clip(0.5 * y + rng.random(100) * 0.5, 0, 1)
    ece_cases.append({"name": "ece-binary-1d", "y_true": ints(y), "probs": fl(p1),
                      "expected": {str(b): ece_reference(y, p1, b) for b in [15, 10]}})

    out = {
        "generator": "scripts/make_metrics_fixtures.py",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "label_cases": label_cases,
        "binary_rank_cases": binary_cases,
        "multiclass_rank_cases": multi_cases,
        "two_column_cases": two_col,
        "ece_cases": ece_cases,
    }
    with open(OUT, "w") as fh:
        json.dump(out, fh, allow_nan=False)
        fh.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
