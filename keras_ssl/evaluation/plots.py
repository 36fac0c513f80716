"""PNG plots of runs: training curves and a 2-D map of the embedding."""

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history, path, title=None):
    """Plots every metric of a Keras history dict (one panel each) to `path`.

    Example:

    >>> plot_history(model.history.history, "runs/x/history.png")
    """
    plt = _pyplot()
    names = [n for n in history if not n.startswith("val_") or n[4:] not in history] or list(history)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(range(1, len(history[name]) + 1), history[name], marker=".", label=name)
        if f"val_{name}" in history:
            ax.plot(range(1, len(history[f"val_{name}"]) + 1), history[f"val_{name}"], marker=".", label=f"val_{name}")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_embedding(features, labels, path, class_names=None, title="embedding (PCA)", max_points=3000, seed=0):
    """Scatter plot of features projected on their first two principal
    components, coloured by label, saved to `path`.

    Example:

    >>> plot_embedding(model.predict(x_test), y_test, "runs/x/embedding.png")
    """
    from sklearn.decomposition import PCA

    plt = _pyplot()
    features = np.asarray(features, dtype="float32")
    labels = np.asarray(labels)
    if len(features) > max_points:
        keep = np.random.default_rng(seed).choice(len(features), max_points, replace=False)
        features, labels = features[keep], labels[keep]
    points = PCA(n_components=2, random_state=seed).fit_transform(features)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    for cls in np.unique(labels):
        mask = labels == cls
        name = class_names[cls] if class_names is not None else str(cls)
        ax.scatter(points[mask, 0], points[mask, 1], s=4, alpha=0.6, label=name)
    ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
