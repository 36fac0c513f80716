"""Word-embedding evaluation: analogies, similarity, neighbours, a map.

The analogy and similarity scores follow gensim's `KeyedVectors.
evaluate_word_analogies` and `evaluate_word_pairs` (gensim 4) to the
letter, so numbers from both agree on the same vectors:

- words match case-insensitively (upper-cased; a word spelled several
  ways maps to its most frequent spelling);
- only the first `restrict_vocab` words (the most frequent) count;
- analogies `a : b :: c : ?` use 3CosAdd (Mikolov et al. 2013): the word
  whose cosine with `unit(b) + unit(c) - unit(a)` is largest, the three
  question words excluded; a question counts only when its four words
  are in the vocabulary, and `coverage` is the share that did;
- similarity is the Spearman correlation between human scores and the
  cosines of the pairs whose two words are in the vocabulary.
"""

import numpy as np

DEFAULT_RESTRICT_VOCAB = 300000  # gensim's default.


def _vectors(vectors, vocabulary):
    vectors = np.asarray(vectors, dtype="float32")
    if vectors.ndim != 2 or len(vectors) != len(vocabulary):
        raise ValueError(
            f"vectors must be [len(vocabulary), dim] = [{len(vocabulary)}, dim], got shape {vectors.shape}"
        )
    return vectors


def _upper_index(vocabulary, restrict_vocab):
    """Upper-cased word -> index among the first `restrict_vocab` words; the
    first (most frequent) spelling wins, as in gensim."""
    index = {}
    for i, word in enumerate(vocabulary[:restrict_vocab]):
        index.setdefault(word.upper(), i)
    return index


def _default_path(path, name):
    if path is not None:
        return path
    from keras_ssl.data.text import word_benchmark_path

    return word_benchmark_path(name)


def analogy_accuracy(vectors, vocabulary, path=None, restrict_vocab=DEFAULT_RESTRICT_VOCAB):
    """Accuracy on word analogies `a b c d` ("a is to b as c is to d").

    Args:
        vectors: float array [V, D]. Word vectors, row i for `vocabulary[i]`.
        vocabulary: list of str. Words, most frequent first.
        path: str. Analogy file in the format of Mikolov's
            `questions-words.txt` (`: section` lines, then `a b c d` lines);
            gensim's copy by default.
        restrict_vocab: int. Only the first this many words are candidates
            and may appear in counted questions (300000, gensim's default).

    Returns:
        dict: `accuracy` (correct / counted questions, 0 if none counted),
        `coverage` (counted / all questions), `correct`, `counted`,
        `questions`, and `sections`: `{name: {"accuracy", "correct",
        "counted", "questions"}}` per section of the file.

    Example:

    >>> result = analogy_accuracy(model.vectors, model.vocabulary)
    >>> result["accuracy"], result["coverage"]
    """
    path = _default_path(path, "questions-words.txt")
    vectors = _vectors(vectors, vocabulary)
    vocabulary = list(vocabulary)
    restrict_vocab = min(int(restrict_vocab), len(vocabulary))
    index = _upper_index(vocabulary, restrict_vocab)
    sections, order, current = {}, [], None
    with open(path, "rb") as f:
        for line in f:
            line = line.decode("utf-8")
            if line.startswith(": "):
                current = line.lstrip(": ").strip()
                if current not in sections:
                    order.append(current)
                    sections[current] = {"questions": 0, "items": []}
                continue
            words = [w.upper() for w in line.split()]
            if len(words) != 4:
                continue  # gensim skips malformed lines.
            if current is None:
                raise ValueError(f"{path}: a question comes before the first ': section' line")
            sections[current]["questions"] += 1
            if all(w in index for w in words):
                sections[current]["items"].append(words)

    candidates = vectors[:restrict_vocab]
    norms = np.linalg.norm(candidates, axis=1)
    units = candidates / norms[:, None]
    # Which candidates spell a question word (their upper-case form).
    upper = [w.upper() for w in vocabulary[:restrict_vocab]]
    spellings = {}
    for i, word in enumerate(upper):
        spellings.setdefault(word, []).append(i)

    results, total_correct, total_counted, total_questions = {}, 0, 0, 0
    for name in order:
        items = sections[name]["items"]
        correct = 0
        for start in range(0, len(items), 1024):
            chunk = items[start : start + 1024]
            ids = np.array([[index[w] for w in q] for q in chunk], dtype="int64")
            # gensim: the mean of the unit vectors with weights +1, +1, -1,
            # normalised; cosine = vectors . mean / norms.
            mean = (units[ids[:, 1]] + units[ids[:, 2]] - units[ids[:, 0]]) / np.float32(3.0)
            mean /= np.linalg.norm(mean, axis=1, keepdims=True)
            scores = (candidates @ mean.T).T / norms[None, :]
            for row, question in enumerate(chunk):
                for word in question[:3]:
                    scores[row, spellings[word]] = -np.inf
            predicted = scores.argmax(axis=1)
            correct += int(sum(upper[p] == q[3] for p, q in zip(predicted, chunk)))
        counted, questions = len(items), sections[name]["questions"]
        results[name] = {
            "accuracy": correct / counted if counted else 0.0,
            "correct": correct,
            "counted": counted,
            "questions": questions,
        }
        total_correct += correct
        total_counted += counted
        total_questions += questions
    return {
        "accuracy": total_correct / total_counted if total_counted else 0.0,
        "coverage": total_counted / total_questions if total_questions else 0.0,
        "correct": total_correct,
        "counted": total_counted,
        "questions": total_questions,
        "sections": results,
    }


def word_similarity_spearman(vectors, vocabulary, path=None, restrict_vocab=DEFAULT_RESTRICT_VOCAB, delimiter="\t"):
    """Spearman correlation between human similarity scores and cosines.

    Args:
        vectors: float array [V, D]. Word vectors, row i for `vocabulary[i]`.
        vocabulary: list of str. Words, most frequent first.
        path: str. Tab-separated `word1 word2 score` lines (`#` comments),
            as `wordsim353.tsv`; gensim's copy by default.
        restrict_vocab: int. Only the first this many words count.
        delimiter: str. Field separator.

    Returns:
        dict: `spearman` (nan if fewer than two pairs were counted),
        `pearson`, `coverage` (counted / all pairs), `counted`, `pairs`.

    Example:

    >>> word_similarity_spearman(model.vectors, model.vocabulary)["spearman"]
    """
    from scipy import stats

    path = _default_path(path, "wordsim353.tsv")
    vectors = _vectors(vectors, vocabulary)
    index = _upper_index(list(vocabulary), min(int(restrict_vocab), len(vocabulary)))
    gold, model, pairs = [], [], 0
    with open(path, encoding="utf8") as f:
        for line in f:
            if not line or line.startswith("#"):
                continue
            fields = [w.upper() for w in line.split(delimiter)]
            if len(fields) != 3:
                continue
            try:
                score = float(fields[2])
            except ValueError:
                continue
            pairs += 1
            a, b = fields[0], fields[1]
            if a not in index or b not in index:
                continue
            u, v = vectors[index[a]], vectors[index[b]]
            gold.append(score)
            model.append(float(np.dot(u / np.linalg.norm(u), v / np.linalg.norm(v))))
    counted = len(gold)
    enough = counted >= 2
    return {
        "spearman": float(stats.spearmanr(gold, model)[0]) if enough else float("nan"),
        "pearson": float(stats.pearsonr(gold, model)[0]) if enough else float("nan"),
        "coverage": counted / pairs if pairs else 0.0,
        "counted": counted,
        "pairs": pairs,
    }


def nearest_neighbours(vectors, vocabulary, word, k=10):
    """The `k` words of highest cosine similarity to `word` (itself
    excluded), as `[(word, cosine), ...]`, best first.

    Example:

    >>> nearest_neighbours(model.vectors, model.vocabulary, "king", k=3)
    [('queen', 0.71), ...]
    """
    vocabulary = list(vocabulary)
    vectors = _vectors(vectors, vocabulary)
    try:
        i = vocabulary.index(word)
    except ValueError:
        raise KeyError(f"{word!r} is not in the vocabulary of {len(vocabulary)} words") from None
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    cosines = vectors @ vectors[i] / (norms * norms[i])
    cosines[i] = -np.inf
    k = min(int(k), len(vocabulary) - 1)
    best = np.argpartition(-cosines, k - 1)[:k] if k > 0 else np.zeros(0, int)
    best = best[np.argsort(-cosines[best], kind="stable")]
    return [(vocabulary[j], float(cosines[j])) for j in best]


def plot_words(vectors, vocabulary, words, path, method="pca", seed=0, title=None):
    """Saves a 2-D map (PCA or t-SNE) of the vectors of `words` as a PNG.

    Words missing from the vocabulary are left out. Returns the list of
    words plotted.

    Example:

    >>> plot_words(model.vectors, model.vocabulary, ["king", "queen", "man", "woman"], "words.png")
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    vocabulary = list(vocabulary)
    vectors = _vectors(vectors, vocabulary)
    index = {w: i for i, w in enumerate(vocabulary)}
    shown = [w for w in dict.fromkeys(words) if w in index]
    if len(shown) < 3:
        raise ValueError(f"plot_words needs at least 3 words in the vocabulary, found {shown}")
    points = vectors[[index[w] for w in shown]].astype("float64")
    points /= np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
    if method == "pca":
        centred = points - points.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        xy = centred @ components[:2].T
    else:
        from sklearn.manifold import TSNE

        # 500 iterations settle a map of a few hundred words.
        xy = TSNE(
            n_components=2,
            perplexity=min(30.0, (len(shown) - 1) / 3),
            init="pca",
            random_state=seed,
            metric="cosine",
            max_iter=500,
        ).fit_transform(points)
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    for (x, y), word in zip(xy, shown):
        ax.annotate(word, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax.set_title(title or f"{len(shown)} words ({method.upper()} of unit vectors)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return shown
