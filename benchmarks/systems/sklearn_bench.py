"""scikit-learn's MLPClassifier: adam, the same batch size and hyperparameters, no early stopping,
tol 0 (so every epoch runs), no L2 penalty (alpha 0). Timed around ``fit``.

scikit-learn draws its own (Glorot-uniform) initial weights and its own shuffling; the arithmetic
per step does not depend on the values. float32 input keeps it in float32.
"""
from __future__ import annotations

import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from benchmarks.workloads import BETA1, BETA2, EPSILON, LEARNING_RATE, SEED, Workload, make_data


def train(w: Workload) -> dict:
    import sklearn
    X, y = make_data(w)
    clf = MLPClassifier(hidden_layer_sizes=w.hidden, activation="relu", solver="adam",
                        alpha=0.0, batch_size=w.batch_size, learning_rate_init=LEARNING_RATE,
                        beta_1=BETA1, beta_2=BETA2, epsilon=EPSILON, max_iter=w.epochs,
                        shuffle=True, random_state=SEED, tol=0.0, early_stopping=False,
                        n_iter_no_change=w.epochs + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        started = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - started
    assert clf.n_iter_ == w.epochs, clf.n_iter_
    return {"seconds": seconds, "samples": w.samples, "final_train_loss": float(clf.loss_),
            "dtype": str(clf.coefs_[0].dtype), "version": sklearn.__version__}
