"""The embedded default model: shipped files, held-out zero-shot accuracy, agreement with what the
training script recorded, and a deterministic training script."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modalchorus_widget.encoders.default import CONFIG_FILE, WEIGHTS_FILE, DefaultEncoder, digits_split

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config():
    return json.loads(CONFIG_FILE.read_text())


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32), d.target


def test_shipped_files_small_and_safetensors(config):
    assert WEIGHTS_FILE.is_file() and WEIGHTS_FILE.stat().st_size < 5e6
    from safetensors import safe_open

    with safe_open(str(WEIGHTS_FILE), "np") as f:
        assert len(list(f.keys())) > 0
    assert config["dim"] == 384 and config["split"]["random_state"] == 0 and config["split"]["test_fraction"] == 0.3


def test_held_out_zero_shot_accuracy(config, digits):
    images, y = digits
    enc = DefaultEncoder()
    _, test = digits_split(y)
    img = enc.encode_images(images[test])
    txt = enc.encode_texts(enc.class_prompts())
    pred = np.argmax(img @ txt.T, axis=1)
    acc = float(np.mean(pred == y[test]))
    assert acc > 0.5
    # the shipped weights are the ones the training script measured
    assert acc == pytest.approx(config["zero_shot"]["test_accuracy"], abs=1e-3)
    cm = np.zeros((10, 10), int)
    np.add.at(cm, (y[test], pred), 1)
    assert cm.tolist() == config["zero_shot"]["test_confusion"]


def test_unseen_phrasings_work(digits):
    """Prompts phrased in ways never used in training still classify far above chance (10 %)."""
    from modalchorus_widget.encoders.default import UNSEEN_PHRASINGS, fill

    images, y = digits
    enc = DefaultEncoder()
    _, test = digits_split(y)
    img = enc.encode_images(images[test])
    accs = []
    for t in UNSEEN_PHRASINGS:
        txt = enc.encode_texts([fill(t, c) for c in range(10)])
        accs.append(float(np.mean(np.argmax(img @ txt.T, axis=1) == y[test])))
    assert np.mean(accs) > 0.5 and min(accs) > 0.3


def test_split_is_fixed(digits):
    _, y = digits
    a = digits_split(y)
    b = digits_split(y)
    np.testing.assert_array_equal(a[0], b[0])
    assert hashlib.sha1(a[1].tobytes()).hexdigest() == hashlib.sha1(digits_split(y.copy())[1].tobytes()).hexdigest()


@pytest.mark.slow
def test_training_script_is_deterministic(tmp_path):
    """Two short runs of scripts/train_default.py (separate processes) give byte-identical weights."""
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "train_default.py"), "--epochs", "2", "--out", str(out)],
            check=True,
            capture_output=True,
        )
        outs.append((out / "default_digits.safetensors").read_bytes())
        cfg = json.loads((out / "default_digits.json").read_text())
        assert 0.0 <= cfg["zero_shot"]["test_accuracy"] <= 1.0
    assert outs[0] == outs[1]
