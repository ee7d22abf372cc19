"""Generation (the third case study): the Generator interface, the shipped decoder and oracle, the case's round."""

import numpy as np
import pytest

from modalchorus_widget.errors import EmbeddingError, InputTypeError, ModalChorusError
from modalchorus_widget.worlds import shapes as S
from modalchorus_widget.worlds.generation import FunctionGenerator, GenerationError, ShapesOracle, load_shapes_generator
from modalchorus_widget.worlds.generation import case as G
from modalchorus_widget.worlds.generation.sets import add_generations


def _draw(e):
    """A user's generator: one flat image per embedding, its colour from the first three components."""
    rgb = np.clip(np.abs(e[:, :3]) * 255 / np.abs(e[:, :3]).max(), 0, 255).astype(np.uint8)
    return np.broadcast_to(rgb[:, None, None, :], (len(e), 8, 8, 3)).copy()


def test_function_generator_wraps_a_callable():
    e = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)
    gen = FunctionGenerator(_draw, dim=16)
    out = gen.generate(e)
    assert out.shape == (5, 8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, _draw(e))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda e: np.zeros((len(e), 8, 8), np.uint8), "shape"),
        (lambda e: np.zeros((len(e) + 1, 8, 8, 3), np.uint8), "one image per"),
        (lambda e: np.zeros((len(e), 8, 8, 3), np.float32), "uint8"),
        (lambda e: np.full((len(e), 8, 8, 3), np.nan, np.float32), "NaN"),
        (lambda e: [np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)][: len(e)], "unequal|shape"),
    ],
)
def test_function_generator_rejects_wrong_output(fn, match):
    with pytest.raises(GenerationError, match=match) as err:
        FunctionGenerator(fn).generate(np.ones((2, 4), np.float32))
    assert isinstance(err.value, ModalChorusError)


def test_generator_rejects_wrong_input():
    gen = FunctionGenerator(_draw, dim=16)
    with pytest.raises(GenerationError, match=r"\(n, 16\)"):
        gen.generate(np.ones((3, 8), np.float32))
    with pytest.raises(EmbeddingError, match="NaN"):  # the package's one vector validator
        gen.generate(np.full((2, 16), np.nan, np.float32))
    with pytest.raises(EmbeddingError, match="zero at rows"):
        gen.generate(np.zeros((2, 16), np.float32))
    with pytest.raises(ModalChorusError, match="callable"):
        FunctionGenerator("not a function")


def test_shipped_oracle_reproduces_its_reported_accuracy():
    from modalchorus_widget.worlds.generation.shapes import oracle_figures
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    gen, oracle = load_shapes_generator(), ShapesOracle()
    check = oracle.config["held_out"]["check"]
    got = oracle_figures(oracle, gen.decoder, load_shapes_encoder(), n=check["n"])
    for part in ("clean", "generated"):
        assert got[part]["n"] == check[part]["n"]
        assert abs(got[part]["acc"] - check[part]["acc"]) <= 1.0 / check[part]["n"], part
    # the case's aim for the reader of generations, on the whole held-out sample and on the recomputed prefix
    assert oracle.config["held_out"]["generated"]["acc"] >= 0.95 and got["generated"]["acc"] >= 0.95
    assert got["clean"]["acc"] >= 0.95


def test_generations_are_scenes_the_oracle_reads_and_join_the_set():
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    enc, gen = load_shapes_encoder(), load_shapes_generator()
    texts = G.prompt_texts(S.COMBOS.index(("blue", "triangle")))
    imgs = gen.generate(enc.encode_texts(texts), random_state=0)
    assert imgs.shape == (len(texts), 32, 32, 3) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(imgs, gen.generate(enc.encode_texts(texts), random_state=0))  # seeded
    read = ShapesOracle().read(imgs)
    assert np.mean(read["combo"] == S.COMBOS.index(("blue", "triangle"))) >= 0.8
    case = G.generation_case(enc, n_images=60)
    es = add_generations(case["embeddings"], imgs, enc, prompts=texts, name="generated: blue triangle")
    assert es.n == case["embeddings"].n + len(texts)
    assert list(es.labels[-len(texts) :]) == ["generated: blue triangle"] * len(texts)
    assert list(es.frame["prompt"].iloc[-len(texts) :]) == texts
    # on a widget, the widget takes them itself (the world does not know the view): uint8 arrays go to augment
    from modalchorus_widget import Chorus

    w = Chorus(case["embeddings"], projector="PCA", encoder=enc)
    rows = w.augment(images=imgs, set_name="generated: blue triangle")
    assert rows.tolist() == list(range(case["embeddings"].n, es.n)) and w.sets["generated: blue triangle"].size == len(
        imgs
    )
    np.testing.assert_allclose(w.embeddings.vectors[rows], es.vectors[-len(texts) :], atol=1e-5)
    with pytest.raises(InputTypeError, match=r"w\.augment\(images=images"):
        add_generations(w, imgs, enc)


@pytest.mark.slow
def test_case_round_moves_the_leak_down():
    """Small instance: 300 training scenes, 8 generations per held-out paraphrase (40 of the target: with 10,
    the oracle-read leak moved by chance as much as by the round)."""
    from modalchorus_widget import Aligner
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    enc, gen, oracle = load_shapes_encoder(), load_shapes_generator(), ShapesOracle()
    case = G.generation_case(enc, n_images=300)
    before = G.generation_figures(gen, oracle, enc, n_per_text=8)
    al = Aligner(**G.SETTINGS).fit(case["embeddings"])
    al.step(*G.case_constraints(case))
    after = G.generation_figures(gen, oracle, enc, al, n_per_text=8)
    # what the prior drew (exact renderer labels) leaks before, less after; the oracle's reading follows
    assert before["drawn_leak"] >= 0.5
    assert after["drawn_leak"] < before["drawn_leak"]
    assert before["leak"] >= 0.5 and after["leak"] < before["leak"]
    assert after["other_acc"] >= before["other_acc"] - 0.05
