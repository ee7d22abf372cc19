"""Rounds and the widget at a million rows (issue 32): what one alignment round and one ``Chorus`` cost at 1M.

The data: COCO-500's real CLIP vectors repeated with Gaussian noise (norm about ``--noise``), 999,000 image rows
and 1,000 text rows (every caption twice), each row labelled with its source pair's coarse label. The round: one
point-set pull of 200 images (copies of pair ``--pair``'s image) to that pair's caption row, default settings,
in fast and in anchor mode; each timed from ``step`` to its return in this (warm) process, torch already
imported, the wall seconds of the round itself (what a user waits for once the notebook runs).

Keys: ``round_fast_1m_s`` and ``round_anchors_1m_s`` (``Aligner.step``, once the memory of the round's new state
has been mapped in the background, as it is while a user lassos: ``round_*_1m_reserve_wait_s`` is how long the
benchmark waited for that; ``memory.reserve``), ``round_*_1m_back_to_back_s`` (the same round again at once, mapping
its memory itself); ``widget_round_fast_1m_s`` and
``widget_round_anchors_1m_s`` (the same lasso through ``ChorusState.align``, pulled to another caption, pair 11's,
one of 20 caption rows given as class prompts, which the guard then reads: the round, the re-placed points, the
predictions and the round's panel); ``chorus_1m_first_frame_s`` (``Chorus(es, projector=MFM())`` returns
with a layout to draw) and ``chorus_1m_mfm_ready_s`` (the MFM map replaces it, kernel side); ``device``.

``measure(args)`` is what ``benchmarks.scale_fit`` calls; ``main`` runs it alone:
``python -m benchmarks scale-rounds --json FILE`` (or ``python -m benchmarks.scale_rounds --json FILE``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

import numpy as np

N_IMAGES, N_TEXTS, MEMBERS = 999_000, 1_000, 200


def noisy_rows(x: np.ndarray, n: int, noise: float, rng, block: int = 65_536) -> np.ndarray:
    """n unit float32 rows: rows of ``x`` repeated in order, plus Gaussian noise of norm about ``noise``, built
    block by block (no n x d float64 temporaries)."""
    out = np.empty((n, x.shape[1]), np.float32)
    scale = np.float32(noise / np.sqrt(x.shape[1]))
    for s in range(0, n, block):
        idx = np.arange(s, min(n, s + block)) % len(x)
        v = x[idx] + scale * rng.standard_normal((len(idx), x.shape[1]), dtype=np.float32)
        out[s : s + len(idx)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def million_set(n_images: int = N_IMAGES, n_texts: int = N_TEXTS, noise: float = 0.2, seed: int = 0):
    """(EmbeddingSet, source pair of every row): COCO-500 images and captions repeated with noise."""
    from modalchorus_widget.data.datasets import load_coco500
    from modalchorus_widget.data.embeddings import EmbeddingSet

    coco = load_coco500().embeddings
    img = coco.vectors[coco.modality == "image"]
    txt = coco.vectors[coco.modality == "text"]
    lab = np.asarray(coco.labels[coco.modality == "image"], dtype=object)
    rng = np.random.default_rng(seed)
    vec = np.concatenate([noisy_rows(img, n_images, noise, rng), noisy_rows(txt, n_texts, noise, rng)])
    pair = np.concatenate([np.arange(n_images) % len(img), np.arange(n_texts) % len(txt)])
    mod = np.array(["image", "text"], dtype=object)[np.repeat([0, 1], [n_images, n_texts])]
    es = EmbeddingSet(vec, modality=mod, labels=lab[pair], normalize=False)
    return es, pair


def the_constraint(es, pair, which: int = 7, members: int = MEMBERS):
    """PointSet(caption row of pair ``which``, ``members`` image copies of that pair): a lasso around one
    image's copies pulled to its caption."""
    from modalchorus_widget.alignment import PointSet

    n_img = int((es.modality == "image").sum())
    anchor = n_img + which
    rows = np.flatnonzero(pair[:n_img] == which)[:members]
    return PointSet(anchor, rows)


def _aligner(es, mode, **params):
    from modalchorus_widget.alignment import Aligner

    return Aligner(mode=mode, **params).fit(es)


def _device(dev):
    return dev if dev in ("cpu", "cuda") else str(dev)


def measure(args=None, log=None) -> dict:
    """Run the round and widget measurements; ``args`` (argparse.Namespace or None) may set ``rounds_only``,
    ``mfm_timeout`` (seconds to wait for the MFM map, default 600) and ``noise``. Returns the figures."""
    import torch

    from modalchorus_widget import memory
    from modalchorus_widget.alignment import PointSet
    from modalchorus_widget.projection.mfm import MFM
    from modalchorus_widget.widget.chorus import Chorus
    from modalchorus_widget.widget.state import ChorusState

    log = log or (lambda *a: print(*a, file=sys.stderr, flush=True))
    rounds_only = bool(getattr(args, "rounds_only", False))
    mfm_timeout = float(getattr(args, "mfm_timeout", 600) or 600)
    noise = float(getattr(args, "noise", 0.2) or 0.2)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = {}
    t = time.perf_counter()
    es, pair = million_set(noise=noise)
    log(f"data: {es.n:,} rows in {time.perf_counter() - t:.1f} s")
    c = the_constraint(es, pair)
    device = "cpu"
    for mode in ("fast", "anchors"):
        al = _aligner(es, mode)
        al.step(the_constraint(es, pair, which=11))  # warm-up round: lazy imports, caches
        al.undo()
        t = time.perf_counter()
        memory.wait()  # the user's lasso between rounds: the next state's memory is mapped meanwhile
        out[f"round_{mode}_1m_reserve_wait_s"] = round(time.perf_counter() - t, 3)
        load = os.getloadavg()[0]
        t, c0 = time.perf_counter(), time.process_time()
        rnd = al.step(c)
        out[f"round_{mode}_1m_s"] = round(time.perf_counter() - t, 3)
        out[f"round_{mode}_1m_cpu_s"] = round(time.process_time() - c0, 3)  # the wall clock depends on the load
        al.undo()
        t = time.perf_counter()
        al.step(c)  # again at once: no pause, so this round maps its new state itself
        out[f"round_{mode}_1m_back_to_back_s"] = round(time.perf_counter() - t, 3)
        out[f"round_{mode}_1m_steps"] = int(rnd.report["steps"])
        out[f"round_{mode}_1m_load"] = round(load, 2)
        device = _device(getattr(al, "device_", device))
        log(f"{mode} round: {out[f'round_{mode}_1m_s']} s, {rnd.report['steps']} steps (load {load:.2f})")
        del al, rnd  # one 2 GB state per round: free them before the widget's own
        gc.collect()
        if not rounds_only:  # the same round through the widget's state: re-placed points, predictions, panel
            # 20 caption rows as class prompts; the lasso (pair 7's images) is pulled to one of them, pair 11's caption:
            # a relabel the guard reads against the prompts (pulled to their own caption, the round held at step 0)
            prompts = list(range(es.n - N_TEXTS + 8, es.n - N_TEXTS + 28))
            al2 = _aligner(es, mode, guard=dict(concepts=prompts))  # what Chorus gives its default aligner
            st = ChorusState(es, projector="PCA", aligner=al2, class_prompts=prompts)
            t = time.perf_counter()
            st.align(PointSet(es.n - N_TEXTS + 11, c.members))
            out[f"widget_round_{mode}_1m_s"] = round(time.perf_counter() - t, 3)
            log(f"{mode} round through the widget's state: {out[f'widget_round_{mode}_1m_s']} s")
            del st, al2
            gc.collect()
    out["device"] = device
    if not rounds_only and not getattr(args, "skip_chorus", False):
        load = os.getloadavg()[0]
        t = time.perf_counter()
        w = Chorus(es, projector=MFM(random_state=0))
        w.get_state()  # what the first frame sends
        out["chorus_1m_first_frame_s"] = round(time.perf_counter() - t, 3)
        out["chorus_1m_load"] = round(load, 2)
        log(f"Chorus first frame: {out['chorus_1m_first_frame_s']} s ({w.method})")
        thread = w._fit_thread
        if thread is not None:
            thread.join(mfm_timeout)
        if thread is None or not thread.is_alive():
            w.wait()
            out["chorus_1m_mfm_ready_s"] = round(time.perf_counter() - t, 3)
            log(f"Chorus MFM ready: {out['chorus_1m_mfm_ready_s']} s")
        else:
            out["chorus_1m_mfm_ready_s"] = None
            out["chorus_1m_mfm_ready_note"] = f"not ready after {mfm_timeout:.0f} s"
            log(out["chorus_1m_mfm_ready_note"])
    out["cores"] = os.cpu_count()
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks scale-rounds", description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--rounds-only", action="store_true", help="only Aligner.step (no widget, no MFM)")
    ap.add_argument("--mfm-timeout", type=float, default=600, help="seconds to wait for the MFM map")
    ap.add_argument("--skip-chorus", action="store_true", help="no Chorus(es, projector=MFM()) first frame / MFM")
    ap.add_argument("--noise", type=float, default=0.2, help="noise norm added to the repeated rows")
    args = ap.parse_args(argv)
    out = measure(args)
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
