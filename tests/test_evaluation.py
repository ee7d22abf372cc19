"""Zero-shot and retrieval figures on hand-made cases and on real CLIP (COCO-500)."""

import numpy as np
import pytest

from modalchorus_widget.evaluation import accuracy, confusion_matrix, per_class_accuracy, recall_at_k, zero_shot_predict


def test_coco500_image_to_text_top1_matches_provenance(coco_vectors):
    img, txt = coco_vectors
    assert recall_at_k(img, txt, 1) == pytest.approx(0.552, abs=1e-9)
    assert recall_at_k(img, txt, 5) > recall_at_k(img, txt, 1)
    assert recall_at_k(img, txt, 500) == 1.0


def test_recall_counts_ties_against_the_query():
    q = np.array([[1.0, 0.0]])
    keys = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert recall_at_k(q, keys, 1, truth=[1]) == 1.0  # tie is not "strictly more similar"
    assert recall_at_k(q, keys, 1, truth=[0]) == 0.0


def test_zero_shot_and_per_class():
    prompts = np.eye(3, dtype=np.float32)
    x = np.array([[1, 0.1, 0], [0.2, 1, 0], [0.9, 0, 0.1], [0, 0, 1]], dtype=np.float32)
    pred = zero_shot_predict(x, prompts)
    np.testing.assert_array_equal(pred, [0, 1, 0, 2])
    truth = np.array([0, 1, 2, 2])
    assert accuracy(pred, truth) == 0.75
    np.testing.assert_allclose(per_class_accuracy(pred, truth, 3), [1.0, 1.0, 0.5])
    assert confusion_matrix(pred, truth, 3)[2, 0] == 1
    with pytest.raises(ValueError, match="dimension 3 but prompt_vectors 2"):
        zero_shot_predict(x, np.eye(2))
