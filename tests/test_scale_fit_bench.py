"""The scale-fit benchmark's quality figures are the metrics' own: exact on sampled queries, equal to
``metrics.evaluate`` when every row is a query (duplicate rows, i.e. ties, included)."""

import numpy as np

from benchmarks import scale_fit as bench
from modalchorus_widget.projection import metrics as M


def test_sampled_scores_equal_the_metrics_with_every_row_a_query(coco_vectors):
    img, txt = coco_vectors
    X = np.concatenate([img[:300], txt[:300]]).astype(np.float32)
    X[1:6] = X[0]  # duplicate images and texts: ties in high-D
    X[400:410] = X[399]
    mod = M.modality_labels(300, 300)
    Y = X @ np.random.default_rng(0).normal(size=(X.shape[1], 2))
    Y[310:315] = Y[309]  # ties in 2-D
    want = M.evaluate(X, Y, mod, ks=(10,))
    got = bench.sampled_scores(X, Y, mod, k=10, n_queries=5000)
    for key in ("Tx@10", "Cx@10", "Ti@10"):
        assert abs(got[key] - want[key]) < 1e-6, (key, got[key], want[key])
    part = bench.sampled_scores(X, Y, mod, k=10, n_queries=100)  # a sample reads close to the whole
    assert abs(part["Tx@10"] - want["Tx@10"]) < 0.05


def test_sizes_parse_and_label():
    assert [bench.parse_size(s) for s in ("10k", "100k", "1m", "40000")] == [10_000, 100_000, 1_000_000, 40_000]
    assert [bench.size_label(n) for n in (10_000, 1_000_000, 12_345)] == ["10k", "1m", "12345"]
