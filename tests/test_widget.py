"""ScatterWidget / Chorus on the Python side: traitlet validation, binary state, sets, concept axis, alignment."""

import json

import numpy as np
import pytest

from modalchorus_widget.alignment import Aligner
from modalchorus_widget.data.embeddings import EmbeddingSet
from modalchorus_widget.errors import EmbeddingError, WidgetError
from modalchorus_widget.projection.base import Projector
from modalchorus_widget.projection.registry import make_projector
from modalchorus_widget.widget.buffers import BufferFormatError
from modalchorus_widget.widget.chorus import Chorus
from modalchorus_widget.widget.scatter import ScatterWidget


def scatter(n=100, **kw):
    rng = np.random.default_rng(0)
    return ScatterWidget(rng.normal(size=(n, 2)), category=np.arange(n) % 3, modality=np.arange(n) % 2, **kw)


def test_state_is_binary_not_json():
    w = scatter(10_000)
    nb = w.payload_nbytes()
    raw = 10_000 * 2 * 4 + 10_000 + 10_000
    assert nb["raw"] == raw
    assert nb["binary"] == raw  # every array is one buffer
    assert nb["json"] < 3000  # the rest is small metadata, no digits of positions
    assert nb["total"] <= 1.1 * raw


def test_selected_is_sorted_unique_uint32_and_validated():
    w = scatter()
    w.selected = [7, 3, 3, 99]
    assert w.selected.dtype == np.uint32 and w.selected.tolist() == [3, 7, 99]
    with pytest.raises(EmbeddingError, match=r"selected: row indices must lie in \[0, 100\).*out of range"):
        w.selected = [100]  # the same error as a constraint's rows out of range
    assert w.selected.tolist() == [3, 7, 99]  # unchanged on failure


def test_front_end_update_sets_selected_without_echo():
    w = scatter()
    sent = []
    w.comm.send = lambda data=None, metadata=None, buffers=None: sent.append(data)  # capture kernel -> browser

    def updates():
        return [
            d
            for d in sent
            if d
            and d.get("method") == "update"
            and ("selected" in d.get("state", {}) or ["selected"] in d.get("buffer_paths", []))
        ]

    w.set_state({"selected": memoryview(np.array([2, 5], np.uint32).tobytes())})
    assert w.selected.tolist() == [2, 5]
    assert updates() == []  # what the browser sent is not sent back (ipywidgets' echo_update aside)
    w.set_state({"selected": memoryview(np.array([9, 1], np.uint32).tobytes())})
    assert w.selected.tolist() == [1, 9]
    assert len(updates()) == 1  # unsorted input: the sorted form goes back once, no loop


def test_positions_validation_and_update():
    w = scatter()
    with pytest.raises(WidgetError, match="100 points"):
        w.positions = np.zeros((5, 2))
    with pytest.raises(BufferFormatError, match="not finite"):
        w.update_positions(np.full((100, 2), np.nan))
    w.update_positions(np.ones((100, 2)))
    assert w.positions.dtype == np.float32 and (w.positions == 1).all()


def _custom(sent, kind):
    return [d for d in sent if d and d.get("method") == "custom" and d["content"].get("type") == kind]


def test_few_moved_points_go_as_a_delta():
    """At most half the points moved: a positions_delta of exactly those (shown indices, places), no full upload;
    more than half: the whole array, as before."""
    w = scatter()
    sent, bufs = [], []
    w.comm.send = lambda data=None, metadata=None, buffers=None: (sent.append(data), bufs.append(buffers))
    xy = w.positions.copy()
    xy[[3, 50]] += 1
    w.update_positions(xy)
    (delta,) = _custom(sent, "positions_delta")
    b = bufs[sent.index(delta)]
    assert delta["content"]["count"] == 2 and np.frombuffer(b[0], np.uint32).tolist() == [3, 50]
    assert np.array_equal(np.frombuffer(b[1], np.float32).reshape(-1, 2), xy[[3, 50]])
    assert np.array_equal(w.positions, xy)
    assert not [d for d in sent if d and d.get("method") == "update" and "positions" in str(d)]
    sent.clear()
    w.update_positions(xy + 1)
    assert not _custom(sent, "positions_delta") and [d for d in sent if d and d.get("method") == "update"]


def test_bad_constructor_input():
    with pytest.raises(BufferFormatError, match=r"shape \(n, 2\)"):
        ScatterWidget(np.zeros((4, 3)))
    with pytest.raises(WidgetError, match="no name"):
        ScatterWidget(np.zeros((4, 2)), category=[0, 1, 2, 3], category_names=["a"])
    with pytest.raises(BufferFormatError, match="one per point"):
        ScatterWidget(np.zeros((4, 2)), modality=[0, 1])


def test_named_sets_dict_like_and_synced_as_bytes():
    w = scatter()
    w.sets["dogs"] = [4, 1]
    w.sets["ref"] = np.arange(100) < 3
    assert w.sets.names == ["dogs", "ref"]
    assert w.sets["dogs"].tolist() == [1, 4] and w.sets["ref"].tolist() == [0, 1, 2]
    state = w.get_state("named_sets")["named_sets"]
    assert all(isinstance(v, memoryview) for v in state.values())
    del w.sets["dogs"]
    assert "dogs" not in w.sets and len(w.sets) == 1
    with pytest.raises(BufferFormatError):
        w.sets["bad"] = [1000]
    with pytest.raises(KeyError, match="no set named"):
        w.sets["nope"]


def test_tooltip_reply_goes_to_front_end():
    w = scatter()
    sent = []
    w.send = lambda content, buffers=None: sent.append((content, buffers))
    w._on_front_end_msg(w, {"type": "hover", "index": 4}, [])
    assert sent and sent[0][0]["type"] == "tooltip" and sent[0][0]["index"] == 4
    assert sent[0][0]["label"] == "1"


@pytest.fixture(scope="module")
def coco_set(coco_vectors):
    img, txt = coco_vectors
    labels = np.arange(60) % 4
    return EmbeddingSet.from_pairs(
        img[:60], txt[:60], labels=labels, text_labels=labels, captions=[f"caption {i}" for i in range(60)]
    )


@pytest.fixture(scope="module")
def chorus(coco_set):
    return Chorus(coco_set, projector="PCA")


def test_chorus_projects_in_row_order(coco_set, chorus):
    from sklearn.decomposition import PCA

    expected = PCA(2).fit_transform(coco_set.vectors)
    np.testing.assert_allclose(chorus.positions, expected, rtol=1e-4, atol=1e-4)
    assert chorus.modality_names == ["image", "text"]
    assert chorus.modality.tolist() == [0] * 60 + [1] * 60
    assert chorus.color_by == "label" and chorus.category_names == ["0", "1", "2", "3"]


def test_chorus_selected_frame_and_sets(chorus):
    chorus.selected = [1, 61]
    f = chorus.selected_frame()
    assert f["modality"].tolist() == ["image", "text"] and f.index.tolist() == [1, 61]
    chorus.sets["pair0"] = [0, 60]
    assert chorus.sets["pair0"].tolist() == [0, 60]


def test_chorus_concept_axis_from_text_items_and_sets(chorus, coco_set):
    from modalchorus_widget.projection.concept_axis import axis_coordinate

    chorus.sets["first"] = np.arange(10)
    xy = chorus.concept_axis("caption 0", "first")
    np.testing.assert_allclose(
        xy[:, 0], axis_coordinate(coco_set.vectors, coco_set.vectors[60], coco_set.vectors[:10]), atol=1e-6
    )
    np.testing.assert_allclose(xy[:, 1], chorus.positions[:, 1])
    assert chorus.axis_titles["a"] == "caption 0"
    with pytest.raises(WidgetError, match="encoder"):
        chorus.concept_axis("a never seen concept", "first")


def test_chorus_color_by_and_methods(chorus):
    chorus.set_color_by("modality")
    assert chorus.category_names == ["image", "text"] and chorus.category.tolist()[:1] == [0]
    chorus.set_color_by("label")
    with pytest.raises(WidgetError, match="color_by"):
        Chorus(chorus.embeddings, positions=chorus.positions, color_by="nope")
    before = chorus.positions.copy()
    chorus.set_method("t-SNE")
    assert chorus.method == "t-SNE" and not np.allclose(before, chorus.positions)
    chorus.set_method("PCA")  # cached: back to the same layout
    np.testing.assert_allclose(chorus.positions, before)


def test_chorus_prompts_give_predictions(coco_set, coco_vectors):
    img, txt = coco_vectors
    w = Chorus(
        coco_set,
        positions=np.zeros((120, 2)),
        class_prompts={f"c{i}": txt[i] for i in range(60)},
        color_by="prediction",
    )
    # image i's best caption among the 60 (zero-shot), checked against a direct argmax
    best = np.argmax(img[:60] @ txt[:60].T, axis=1)
    assert list(w.predictions_[:60]) == [f"c{i}" for i in best]
    assert w.color_by == "prediction"


class _Round:
    report = {"steps": 3, "seconds": 0.1}
    constraints = []
    seconds = 0.1
    is_identity = False
    mode = "fast"


class _FakeAligner(Aligner):
    """An Aligner whose round moves every vector a little toward vector 0, or fails (``fail``)."""

    def __init__(self, es, fail=False):
        super().__init__()
        self.fit(es)  # a real fit: history, states and the redo stack as any Aligner has them
        self.fail = fail

    def checkpoint(self):
        return self.embeddings_, list(self.history_)

    def rollback(self, token):
        self.embeddings_, self.history_ = token

    def step(self, *constraints):
        if self.fail:
            raise RuntimeError("optimiser diverged")
        v = self.embeddings_.vectors + 0.5 * self.embeddings_.vectors[0]
        self.embeddings_ = self.embeddings_.with_vectors(v)
        self.history_.append(_Round())
        return self.history_[-1]


def test_align_moves_points_and_reports(coco_set):
    w = Chorus(coco_set, projector="PCA", aligner=_FakeAligner(coco_set))
    before = w.positions.copy()
    w.align("constraint")
    assert not np.allclose(before, w.positions)
    assert w.report["round"] == 1 and w.report["steps"] == 3 and sum(w.report["moved"]["unselected"]) == 120
    assert "alignment rounds: 1" in w.status


def test_align_failure_changes_nothing(coco_set):
    w = Chorus(coco_set, positions=np.zeros((120, 2)), aligner=_FakeAligner(coco_set, fail=True))
    with pytest.raises(RuntimeError, match="diverged"):
        w.align("c")
    assert w.embeddings is coco_set and (w.positions == 0).all() and w.report == {} and w.busy == ""
    default = Chorus(coco_set, positions=np.zeros((120, 2))).aligner  # a round works from the first call
    assert default.mode == "fast" and default.embeddings_ is coco_set and default.history_ == []


def test_package_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, time; t = time.time(); import modalchorus_widget.widget.chorus; "
        "print(time.time() - t, 'torch' in sys.modules, 'open_clip' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"]


class _BrokenMap(Projector):
    """A fitted parametric map whose transform fails (e.g. out of memory) after the round succeeded."""

    name = "broken"
    supports_transform = True

    def is_fitted(self):
        return True

    def transform(self, vectors):
        raise MemoryError("no room for the new positions")


def test_align_with_real_aligner_rolls_back_when_placing_fails(coco_set):
    from modalchorus_widget.alignment import Aligner, PointSet

    aligner = Aligner(n_steps=20).fit(coco_set)
    w = Chorus(coco_set, projector=_BrokenMap(), positions=np.zeros((120, 2)), aligner=aligner)
    with pytest.raises(MemoryError, match="no room"):
        w.align(PointSet(60, np.arange(1, 6)))
    assert w.embeddings is coco_set and (w.positions == 0).all() and w.busy == ""
    assert aligner.history_ == [] and aligner.embeddings_ is coco_set


def test_align_with_real_aligner_moves_selected_points(coco_set):
    from modalchorus_widget.alignment import Aligner, PointSet

    w = Chorus(coco_set, projector="PCA", aligner=Aligner(n_steps=30))
    members = np.arange(1, 6)
    before = coco_set.vectors[members] @ coco_set.vectors[60]
    w.align(PointSet(60, members))
    after = w.embeddings.vectors[members] @ w.embeddings.vectors[60]
    assert after.mean() > before.mean()  # pulled toward the anchor caption
    np.testing.assert_allclose(w.positions, w.projector.transform(w.embeddings.vectors), atol=1e-4)
    assert "alignment rounds: 1" in w.status


def test_align_places_points_with_the_method_on_show(coco_set):
    """After set_method("UMAP"), a round is placed by the fitted UMAP, not by another method's map."""
    from modalchorus_widget.alignment import Aligner, PointSet

    w = Chorus(coco_set, projector="PCA", aligner=Aligner(n_steps=20))
    w.set_method("UMAP")
    umap = w.projector
    assert w.method == "UMAP" and umap.name == "UMAP"
    w.align(PointSet(60, np.arange(1, 6)))
    np.testing.assert_allclose(w.positions, umap.transform(w.embeddings.vectors), atol=1e-4)


class _GatedProjector(Projector):
    """A projector whose fit blocks until the test opens its gate (a slow MFM fit, made deterministic)."""

    name = "gated"

    def __init__(self, gate=None, fail=False):
        self.gate = gate
        self.fail = fail

    def _fit(self, Z, modality):
        assert self.gate.wait(30)
        if self.fail:
            raise RuntimeError("the fit diverged")
        return Z[:, :2] * 10


def test_first_frame_does_not_wait_for_a_slow_fit(coco_set):
    """The widget shows PCA at once, says it is fitting, and animates into the slow map when it is done."""
    import threading

    gate = threading.Event()
    w = Chorus(coco_set, projector=_GatedProjector(gate), wait=False)
    pca = make_projector("PCA").fit_transform(coco_set)
    assert w.method == "PCA" and "fitting gated" in w.busy
    np.testing.assert_allclose(w.positions, pca, atol=1e-4)
    gate.set()
    w.wait(timeout=30)
    assert w.method == "gated" and w.busy == ""
    np.testing.assert_allclose(w.positions, coco_set.vectors[:, :2] * 10, atol=1e-5)
    # calls that need the map wait for it on their own; a failed fit keeps PCA and says why
    gate2 = threading.Event()
    w2 = Chorus(coco_set, projector=_GatedProjector(gate2, fail=True), wait=False)
    gate2.set()
    with pytest.raises(WidgetError, match="the fit diverged"):
        w2.save("unused.chorus")
    assert w2.method == "PCA" and "fitting gated failed" in w2.status


# ---------------------------------------------------------------- rounds as pictures, history, gallery, search
@pytest.fixture(scope="module")
def digits():
    from modalchorus_widget import load_default

    return load_default()


def _digits_chorus(digits):
    from modalchorus_widget.alignment import Aligner

    es = digits.embeddings
    w = Chorus(
        es,
        projector="PCA",
        encoder=digits.encoder,
        class_prompts=digits.prompt_index.tolist(),
        aligner=Aligner(encoder=digits.encoder, random_state=0),
    )
    sent = []
    w.send = lambda msg, buffers=None: sent.append((msg, buffers))
    return w, sent


def test_round_report_view_history_and_bit_exact_goto(digits):
    from modalchorus_widget.alignment import PointSet

    w, sent = _digits_chorus(digits)
    es = digits.embeddings
    lab = es.labels.astype(str)
    wrong = np.flatnonzero((es.modality == "image") & (w.predictions_.astype(str) != lab))
    cls = lab[wrong[0]]
    rows = wrong[lab[wrong] == cls]
    anchor = int(digits.prompt_index[int(cls)])
    v0 = es.vectors.copy()
    rnd = w.align(PointSet(anchor, rows))
    r = w.report
    json.dumps(r)  # plain JSON: no arrays
    assert (
        r["round"] == 1
        and r["words"] == f"pull {len(rows)} image{'s' * (len(rows) > 1)} -> 'a photo of the digit {cls}'"
    )
    # per-class bars over the images the round did not select; the selected ones' accuracy beside them
    z = r["zero_shot"]
    assert z["classes"] == [str(c) for c in digits.class_names] and z["rows"] == "unselected"
    img = es.modality == "image"
    free = img.copy()
    free[rows] = False
    p0 = np.asarray(w.state.predict(es), str)
    for c, b in zip(z["classes"], z["before"]):
        m = free & (lab == c)
        assert b == round(float(np.mean(p0[m] == lab[m])), 4)
    assert z["overall_before"] == round(float(np.mean(p0[free] == lab[free])), 4)
    assert z["n_selected"] == len(rows) and z["selected_before"] == 0.0  # picked as read wrong
    assert z["selected_after"] > z["selected_before"]
    # together they are the round's own figure over every image
    for when in ("before", "after"):
        whole = (z[f"overall_{when}"] * free.sum() + z[f"selected_{when}"] * len(rows)) / img.sum()
        assert abs(whole - rnd.report[f"zero_shot_acc_{when}"]) < 1e-3
    mv = r["moved"]
    assert sum(mv["selected"]) == len(rows) + 1 and sum(mv["selected"]) + sum(mv["unselected"]) == es.n
    pred1 = np.asarray(w.predictions_, object)
    sel = np.zeros(es.n, bool)
    sel[rows] = True
    sel[anchor] = True
    p0 = np.asarray(w.state.predict(es), object)
    assert r["changed_unselected"] == int(((p0 != pred1) & img & ~sel).sum())
    assert r["constraints"][0]["after"]["anchor_cos"] > r["constraints"][0]["before"]["anchor_cos"]
    assert w.history == {"chips": [{"k": 1, "words": r["words"], "identity": False, "applied": True}], "current": 1}
    assert {"type": "round_drawn", "round": 1} in [m for m, _ in sent]
    v1 = w.embeddings.vectors.copy()
    w.undo()
    assert np.array_equal(w.embeddings.vectors, v0) and w.report == {} and w.history["current"] == 0
    assert w.history["chips"][0]["applied"] is False
    np.testing.assert_allclose(w.positions, w.projector.transform(v0), atol=1e-5)
    w.redo()
    assert np.array_equal(w.embeddings.vectors, v1) and w.report["round"] == 1
    w.goto(0)
    assert np.array_equal(w.aligner.embeddings_.vectors, v0)
    w._on_front_end_msg(w, {"type": "goto", "k": 1}, [])  # the strip's click
    assert np.array_equal(w.embeddings.vectors, v1) and w.history["current"] == 1
    with pytest.raises(WidgetError, match="redo"):
        w.redo()
    with pytest.raises(WidgetError, match="0..1"):
        w.goto(5)


def test_gallery_pages_and_search(digits):
    w, sent = _digits_chorus(digits)
    es = digits.embeddings
    rows = np.r_[5:40, 1800:1803]
    w.selected = rows
    msg, bufs = w.gallery(0)
    assert msg["total"] == len(rows) and msg["pages"] == 2 and msg["counts"] == {"image": 35, "text": 3}
    assert [it["row"] for it in msg["items"]] == list(range(5, 29))
    assert all(it["png"] >= 0 for it in msg["items"]) and len(bufs) == 24 and bufs[0][:4] == b"\x89PNG"
    last, _ = w.gallery(9)
    assert last["page"] == 1 and [it["row"] for it in last["items"]] == [*range(29, 40), 1800, 1801, 1802]
    assert last["items"][-1]["text"] == es.items[1802] and last["items"][-1]["png"] == -1
    w._on_front_end_msg(w, {"type": "gallery", "page": 1, "request": "7"}, [])
    assert sent[-1][0]["type"] == "gallery" and sent[-1][0]["request"] == "7"
    res = w.search("a photo of the digit 7")
    q = w.state.encode_texts(["a photo of the digit 7"], "t")[0]
    for m in es.modalities:
        r = es.indices(m)
        assert res["nearest"][m].tolist() == r[np.argsort(-(es.vectors[r] @ q), kind="stable")[:8]].tolist()
    assert res["matches"].tolist() == [int(digits.prompt_index[7])]
    assert len(res["query_xy"]) == 2
    msg, bufs = sent[-1]
    assert (
        msg["type"] == "search" and np.frombuffer(bufs[1], np.uint32).tolist()[:8] == res["nearest"]["image"].tolist()
    )
    assert w.search("3")["matches"].tolist() == np.flatnonzero(es.labels.astype(str) == "3").tolist()
    with pytest.raises(WidgetError, match="type some text"):
        w.search("  ")


def _png_bytes(seed=0, size=8):
    import io

    from PIL import Image

    arr = (np.random.default_rng(seed).random((size, size)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_augment_adds_encoded_points_in_a_named_set_and_bad_files_change_nothing(digits):
    import base64

    from modalchorus_widget.alignment import PointSet
    from modalchorus_widget.errors import ImageDecodeError

    w, sent = _digits_chorus(digits)
    es0 = digits.embeddings
    n0 = es0.n
    png = _png_bytes()
    rows = w.augment(images=[png], texts=["a photo of the digit 3"], set_name="extra", names=["x.png"])
    assert rows.tolist() == [n0, n0 + 1] and w.n == n0 + 2 and w.sets["extra"].tolist() == [n0, n0 + 1]
    es = w.embeddings
    assert list(es.modality[-2:]) == ["image", "text"] and list(es.labels[-2:]) == ["extra", "extra"]
    want = np.concatenate(
        [digits.encoder.encode_images([_png_from(png)]), digits.encoder.encode_texts(["a photo of the digit 3"])]
    )
    np.testing.assert_allclose(es.vectors[-2:], want, atol=1e-6)
    np.testing.assert_allclose(w.positions[-2:], w.projector.transform(want), atol=1e-5)
    assert w.tooltip(n0)["png"][:4] == b"\x89PNG" and w.tooltip(n0 + 1)["text"] == "a photo of the digit 3"
    before = (w.n, dict(w.named_sets), w.positions.copy())
    with pytest.raises(ImageDecodeError, match="bad.png"):
        w.augment(images=[png, b"not an image"], texts=["more"], set_name="extra", names=["ok.png", "bad.png"])
    # the browser's panel: the same refusal comes back as a message, and nothing changed
    junk = "data:image/png;base64," + base64.b64encode(b"\x89PNG junk").decode()
    w._on_front_end_msg(
        w, {"type": "augment", "files": [{"name": "junk.png", "data": junk}], "texts": [], "set_name": "extra"}, []
    )
    assert sent[-1][0]["type"] == "augment" and "junk.png" in sent[-1][0]["error"]
    assert w.n == before[0] and w.sets["extra"].tolist() == [n0, n0 + 1] and np.array_equal(w.positions, before[2])
    ok = "data:image/png;base64," + base64.b64encode(_png_bytes(1)).decode()
    w._on_front_end_msg(
        w, {"type": "augment", "files": [{"name": "y.png", "data": ok}], "texts": ["a seven"], "set_name": "extra"}, []
    )
    assert sent[-1][0] == {"type": "augment", "request": "", "added": 2, "images": 1, "texts": 1, "set_name": "extra"}
    assert w.sets["extra"].tolist() == [n0, n0 + 1, n0 + 2, n0 + 3]
    # a round given the augmented rows takes them as few-shot extras; undo restores every row bit-exactly
    v0 = w.embeddings.vectors.copy()
    threes = np.flatnonzero((es0.labels.astype(str) == "3") & (es0.modality == "image"))[:5]
    rnd = w.align(PointSet(int(digits.prompt_index[3]), np.r_[threes, w.sets["extra"]]))
    extra = rnd.constraints[0].extras["members"]
    assert rnd.constraints[0].members.tolist() == threes.tolist() and w.n == n0 + 4
    assert (
        extra.modality == "image"
        and len(extra.vectors) == 2
        and list(extra.texts) == ["a photo of the digit 3", "a seven"]
    )
    img = [n0, n0 + 2]
    np.testing.assert_allclose(
        w.embeddings.vectors[img], w.aligner.transform(w.state.aug_raw[[0, 2]], "image"), atol=1e-6
    )
    np.testing.assert_allclose(w.positions[img], w.projector.transform(w.embeddings.vectors[img]), atol=1e-5)
    w.undo()
    assert np.array_equal(w.embeddings.vectors, v0)


def _png_from(data):
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def test_augment_without_encoder_says_how_to_attach_one(digits):
    es = digits.embeddings
    w = Chorus(es, projector="PCA")
    with pytest.raises(WidgetError, match=r"encoder=load_default\(\)\.encoder"):
        w.augment(texts=["a photo of the digit 1"])
    assert w.n == es.n and "augmented" not in w.sets


def test_undo_and_redo_on_the_aligner_from_a_cell_drive_the_history_strip(digits):
    from modalchorus_widget.alignment import PointSet

    w, sent = _digits_chorus(digits)
    es = digits.embeddings
    v0 = es.vectors.copy()
    rows = np.flatnonzero((es.labels.astype(str) == "4") & (es.modality == "image"))[:6]
    w.align(PointSet(int(digits.prompt_index[4]), rows))
    v1 = w.embeddings.vectors.copy()
    w.aligner.undo()  # a cell, not the widget
    assert w.state.moved()
    w.sync()  # what the widget runs after that cell
    assert w.history["current"] == 0 and w.history["chips"][0]["applied"] is False
    assert np.array_equal(w.embeddings.vectors, v0) and {"type": "round_drawn", "round": 0} in [m for m, _ in sent]
    w.redo()  # the strip's redo button (or the widget's redo) re-applies the round undone from the cell
    assert np.array_equal(w.embeddings.vectors, v1) and w.history["current"] == 1
    w.aligner.undo()
    w.aligner.redo()
    w.sync()
    assert w.history == {"chips": [w.history["chips"][0]], "current": 1} and w.history["chips"][0]["applied"]
    assert np.array_equal(w.embeddings.vectors, v1)


def test_a_session_saved_after_augment_reopens_with_its_added_points(digits, tmp_path):
    from modalchorus_widget.alignment import PointSet

    w, _ = _digits_chorus(digits)
    es = digits.embeddings
    w.augment(texts=["a photo of the digit 3", "three"], set_name="extra")
    path = w.save(tmp_path / "aug.mcsession")
    w2 = Chorus.load(path, encoder=digits.encoder)
    assert w2.n == es.n + 2 and w2.sets["extra"].tolist() == [es.n, es.n + 1] and w2.state.n_base == es.n
    assert np.array_equal(w2.embeddings.vectors, w.embeddings.vectors)
    threes = np.flatnonzero((es.labels.astype(str) == "3") & (es.modality == "image"))[:4]
    rnd = w2.align(PointSet(int(digits.prompt_index[3]), np.r_[threes, w2.sets["extra"]]))
    assert len(rnd.constraints[0].extras["members"].vectors) == 2 and w2.n == es.n + 2
    # saved after a round: the added rows keep their places (their original vectors are not in the file)
    path = w2.save(tmp_path / "aug_round.mcsession")
    with pytest.warns(UserWarning, match="keep their saved places"):
        w3 = Chorus.load(path, encoder=digits.encoder)
    assert np.array_equal(w3.embeddings.vectors, w2.embeddings.vectors)
    with pytest.raises(WidgetError, match="add it again with w.augment"):
        w3.align(PointSet(int(digits.prompt_index[3]), np.r_[threes, w3.sets["extra"]]))
    w3.align(PointSet(int(digits.prompt_index[3]), threes))
    assert np.array_equal(w3.embeddings.vectors[es.n :], w2.embeddings.vectors[es.n :])


def test_anchor_round_sends_only_the_moved_prompts():
    """An anchor-mode round on the shapes default moves only the tuned prompt rows: the widget sends their new
    places as a delta, and Python's positions hold the round's placement."""
    from modalchorus_widget import PointSet, load_default

    data = load_default("shapes")
    w = Chorus(data.embeddings, projector="PCA", aligner=Aligner(mode="anchors", guard=None))
    sent = []
    w.comm.send = lambda data=None, metadata=None, buffers=None: sent.append(data)
    before = w.positions.copy()
    rnd = w.align(PointSet(int(data.prompt_index[0]), data.train[:8]))
    moved = np.flatnonzero((w.positions != before).any(axis=1))
    (delta,) = _custom(sent, "positions_delta")
    assert 0 < len(moved) <= len(rnd.delta.rows) and delta["content"]["count"] == len(moved)
