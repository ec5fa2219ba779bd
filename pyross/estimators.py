"""Off-the-shelf classifiers from scikit-learn, for M1's head and the representation study.

The features are *not* standardised. A VAE leaves most of its latent units inactive (their
posterior means barely move from 0: with z = 50 on MNIST, 38 units had a standard deviation
of 0.02-0.04 across the training images against about 1 for the 12 active ones), and
standardising would blow that noise up to the scale of the informative units: on MNIST with
100 labels it took M1 + SVM from 82.4 % to 69.7 % test accuracy (seed 0). The latent means are
already on the prior's unit scale and pixels lie in [0, 1].

scikit-learn is imported when an estimator is made, not with pyross: it takes about 90 MiB
that a run of M2 does not need.
"""
import warnings

import numpy as np

#: name → what it is, for help texts
ESTIMATORS = {
    "svm": "support vector machine, RBF kernel",
    "rf": "random forest of 200 trees",
    "logreg": "logistic regression",
    "mlp": "multilayer perceptron, one hidden layer of 256 units",
}


def make_estimator(name, seed):
    """A fresh, unfitted classifier.

    :param str name: a key of :data:`ESTIMATORS`.
    :param int seed: its random state.
    """
    if name == "svm":
        from sklearn.svm import SVC
        return SVC(random_state=seed)
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier
        return RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=-1)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression
        return LogisticRegression(max_iter=2000)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier(hidden_layer_sizes=(256,), max_iter=500, random_state=seed)
    raise ValueError(f"unknown estimator {name!r}; one of {', '.join(ESTIMATORS)}")


def fit(estimator, features, labels):
    """Fit ``estimator`` without the convergence warnings of its iterative solvers (with few
    labels the MLP fits them exactly before its tolerance stops it; that is expected)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(features, labels)


def class_scores(estimator, features):
    """Scores whose argmax is the predicted class, ``(N, K)``: log-probabilities where the
    classifier has them, else the SVM's one-vs-rest decision values (not probabilities)."""
    if hasattr(estimator, "predict_proba"):
        return np.log(np.clip(estimator.predict_proba(features), 1e-12, None))
    scores = estimator.decision_function(features)
    return np.stack([-scores, scores], axis=-1) if scores.ndim == 1 else scores
