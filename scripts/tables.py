"""The tables of figures in the README and the docs, built from the benchmarks' JSON files.

Each table is a function of the files in ``docs/figures/`` (written by ``python -m benchmarks VERB --json
docs/figures/VERB.json``) and is placed by ``scripts/gen_docs.py`` between ``<!-- gen:NAME -->`` and
``<!-- /gen:NAME -->``. Nothing here types a figure: a table whose JSON is missing says which command makes it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"

# how each JSON file is made (the command a missing table names)
COMMANDS = {
    "projection": "python -m benchmarks projection --seeds 3 --scale --json docs/figures/projection.json "
    "--png docs/img/projection-coco500.png",
    "alignment": "python -m benchmarks alignment --json docs/figures/alignment.json",
    "cases": "python -m benchmarks cases --json docs/figures/cases.json --png docs/img/generation-round.png",
    "cmcr": "python -m benchmarks cmcr --json docs/figures/cmcr.json",
    "widget": "python -m benchmarks widget --json docs/figures/widget.json",
    "encode": "python -m benchmarks encode --json docs/figures/encode.json",
    "reliability": "python -m benchmarks reliability --json docs/figures/reliability.json",
    "scale": "python -m benchmarks scale --rows 1000000 --sample 5000 --json docs/figures/scale.json",
    "probe": "python -m benchmarks probe --json docs/figures/probe.json",
    "scale-fit": "python -m benchmarks scale-fit --json docs/figures/scale-fit.json",
    "fixes": "python -m benchmarks fixes --json docs/figures/fixes.json",
    "anchor-cv": "python scripts/anchor_cv.py --json docs/figures/anchor-cv.json",
    "fast-cv": "python scripts/fast_cv.py --json docs/figures/fast-cv.json",
    "guard-cv": "python scripts/guard_cv.py --measure --json docs/figures/guard-cv.json",
}

# the docs page of each benchmark, relative to the repository root (the README links there)
PAGES = {
    "projection": "docs/benchmarks/projection.md",
    "alignment": "docs/benchmarks/alignment.md",
    "cases": "docs/benchmarks/cases.md",
    "cmcr": "docs/benchmarks/cmcr.md",
    "widget": "docs/benchmarks/widget.md",
    "encode": "docs/benchmarks/encode.md",
    "reliability": "docs/reliability.md",
    "scale": "docs/benchmarks/scale.md",
    "probe": "docs/benchmarks/probe.md",
    "scale-fit": "docs/benchmarks/scale.md",
    "fixes": "docs/benchmarks/fixes.md",
    "anchor-cv": "docs/benchmarks/fixes.md",
    "fast-cv": "docs/benchmarks/fixes.md",
    "guard-cv": "docs/benchmarks/fixes.md",
}


class Missing(Exception):
    """A benchmark's JSON file is not there (yet)."""


def load(name: str) -> dict:
    path = FIGURES / f"{name}.json"
    if not path.is_file():
        raise Missing(name)
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------------------------- formatting
def f3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def secs(x, digits=2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f} s"


def num(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


def yes(x) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}.get(x, str(x))


def cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def loadavg(d: dict) -> str:
    for key in ("load_avg_1min", "loadavg_1m_start", "load_avg"):
        if d.get(key) is not None:
            return f"load average {d[key]:.1f} at the start"
    return "load average not recorded"


# ----------------------------------------------------------------------------------------------- projection
PROJECTION_COLUMNS = ("Tx@5", "Tx@10", "Tx@20", "Cx@5", "Cx@10", "Cx@20", "Ti@10", "Ci@10", "T@10", "fit_s")


def _methods(p: dict) -> dict:
    return {k: v for k, v in p.items() if isinstance(v, dict) and "Tx@10" in v}


def projection_table() -> str:
    p = load("projection")
    methods = _methods(p)
    best = {c: max(r[c] for r in methods.values()) for c in PROJECTION_COLUMNS if c.startswith(("Tx", "Cx"))}
    rows = []
    for name, r in sorted(methods.items(), key=lambda kv: -kv[1]["Tx@10"]):
        cells = []
        for c in PROJECTION_COLUMNS:
            if c == "fit_s":
                cells.append(f"{r[c]:.1f}")
                continue
            s = f"{r[c]:.3f}" + (f" ± {r['std'][c]:.3f}" if r.get("seeds", 1) > 1 else "")
            cells.append(f"**{s}**" if c in best and r[c] == best[c] else s)
        rows.append([f"**{name}**" if name == "MFM" else name, *cells])
    d = p.get("data", {})
    note = (
        f"\n\n{d.get('n_images', '?')} images + {d.get('n_texts', '?')} texts ({d.get('source', '?')}, "
        f"d = {d.get('dim', '?')}), mean ± std over {d.get('seeds', '?')} seed(s); the best of each Tx/Cx column in bold."
    )
    return table(["method", *PROJECTION_COLUMNS[:-1], "fit s"], rows) + note


def projection_scale() -> str:
    s = load("projection").get("scale")
    if not s:
        raise Missing("projection")
    rows = [
        [f"MFM fit, embedded default ({s['n_default']:,} points)", secs(s["mfm_fit_default_s"], 1)],
        [f"MFM fit, {s['n_fit']:,} points", secs(s["mfm_fit_10k_s"], 1)],
        [f"UMAP fit, the same {s['n_fit']:,} points", secs(s["umap_fit_10k_s"], 1)],
        ["MFM / UMAP fit time (CPU time)", f"{s['mfm_fit_10k_over_umap']:.2f} ({s['mfm_fit_10k_cpu_over_umap']:.2f})"],
        [f"MFM transform of {s['n_transform']:,} vectors", secs(s["mfm_transform_1m_s"], 1)],
    ]
    return table(["what", "time"], rows)


# ----------------------------------------------------------------------------------------------- alignment
BASELINE_NAMES = {
    "modality_gap_shift": "modality-gap shift",
    "procrustes": "orthogonal Procrustes",
    "clip_adapter": "CLIP-Adapter-style linear fit",
}


def alignment_retrieval() -> str:
    r = load("alignment")["retrieval"]
    rows = [
        ["unaligned", f3(r["i2t_r1_before"]), f3(r["t2i_r1_before"])],
        ["**aligned (one fast round)**", f"**{f3(r['i2t_r1_after'])}**", f"**{f3(r['t2i_r1_after'])}**"],
    ]
    for key, b in r.get("baselines", {}).items():
        rows.append([BASELINE_NAMES.get(key, key), f3(b["i2t_r1"]), f3(b["t2i_r1"])])
    return table(["", "image→text R@1", "text→image R@1"], rows)


def alignment_zero_shot() -> str:
    a = load("alignment")
    rows = []
    labels = {
        "zero_shot": "default prompts",
        "zero_shot_user_prompt": 'user prompt "a stick" for class 1',
        "zero_shot_user_prompt_deep": "the same, deep mode",
    }
    for key, label in labels.items():
        z = a.get(key)
        if not z:
            continue
        rows.append(
            [
                f"{label}: {z['target_class']} seen as {z['confused_with']}",
                z["n_selected"],
                f"{f3(z['target_acc_before'])} → {f3(z['target_acc_after'])}",
                f"{f3(z['overall_acc_before'])} → {f3(z['overall_acc_after'])}",
                f"{z['untouched_changed']} changed (largest class drop {f3(z['untouched_max_drop'])})",
                secs(z["round_s"]),
            ]
        )
    if not rows:
        raise Missing("alignment")
    return table(
        ["protocol", "selected", "target class held out", "overall held out", "untouched classes", "round"], rows
    )


def alignment_speed() -> str:
    s = load("alignment").get("speed")
    if not s:
        raise Missing("alignment")
    rows = [
        ["stops once the constraint holds (default)", s["steps"], secs(s["round_s"]), secs(s["round_cpu_s"])],
        ["every step run", s["steps_all_steps"], secs(s["round_s_all_steps"]), secs(s["round_cpu_s_all_steps"])],
    ]
    note = f"\n\n{s['n']:,} embeddings, {s['members']} selected, {s.get('cores', '?')} cores, {loadavg(s)}."
    return table(["one fast round", "steps", "wall", "CPU"], rows) + note


# ----------------------------------------------------------------------------------------------- cases
def cases_table() -> str:
    c = load("cases")
    rows = [
        [
            "zero-shot (`quickstart.ipynb`)",
            f"{(c.get('zero_shot') or {}).get('target', 'target')} accuracy",
            f3(c["zero_shot_target_before"]),
            f3(c["zero_shot_target_after"]),
        ],
        ["", "largest loss of another class", "", f3(c["zero_shot_untouched_max_drop"])],
        [
            "compositional (`case_compositional.ipynb`)",
            "ARO attribute binding",
            f3(c["aro_attribute_before"]),
            f3(c["aro_attribute_after"]),
        ],
        ["", "ARO relation order", f3(c["aro_relation_before"]), f3(c["aro_relation_after"])],
        ["", "caption retrieval R@1", f3(c["retrieval_r1_before"]), f3(c["retrieval_r1_after"])],
        ["", "single-object zero-shot (the guard)", f3(c["single_zero_shot_before"]), f3(c["single_zero_shot_after"])],
        [
            "generation (`case_generation.ipynb`)",
            '"a red square" generations read as circles',
            f3(c["gen_leak_before"]),
            f3(c["gen_leak_after"]),
        ],
        [
            "",
            "other prompts read as their own class",
            f3(c["gen_other_prompts_acc_before"]),
            f3(c["gen_other_prompts_acc_after"]),
        ],
    ]
    return table(["case (notebook)", "held-out figure", "before", "after"], rows)


def cases_rounds() -> str:
    c = load("cases")
    rounds = c.get("round_s") or {}
    names = {"zero_shot": "zero-shot", "compositional": "compositional", "generation": "generation"}
    rows = [[names.get(k, k), secs(v)] for k, v in rounds.items()]
    if c.get("seconds") is not None:
        rows.append(["whole bench", secs(c["seconds"], 1)])
    if not rows:
        raise Missing("cases")
    load_note = f"\n\nLoad average {c['load_average']:.1f} at the end." if c.get("load_average") is not None else ""
    return table(["round", "time"], rows) + load_note


# ----------------------------------------------------------------------------------------------- C-MCR
def cmcr_table() -> str:
    c = load("cmcr")
    co = c.get("coco_minilm")
    if not co:
        raise Missing("cmcr")
    rows = [["**C-MCR**", f"**{f3(co['r1'])}**", f3(co["r5"])]]
    names = {
        "ridge": "ridge MiniLM → CLIP text (alpha by 5-fold CV)",
        "ridge_alpha1": "ridge MiniLM → CLIP text (alpha 1)",
        "procrustes": "orthogonal Procrustes",
    }
    for key, b in co.get("baselines", {}).items():
        rows.append([names.get(key, key), f3(b["r1"]), f3(b["r5"])])
    if co.get("clip_text_to_image"):
        rows.append(
            [
                "CLIP text → CLIP image (upper bound)",
                f3(co["clip_text_to_image"]["r1"]),
                f3(co["clip_text_to_image"]["r5"]),
            ]
        )
    return table(["MiniLM caption → CLIP image", "R@1", "R@5"], rows)


def cmcr_ablation() -> str:
    c = load("cmcr")
    ab = c.get("ablation", {})
    labels = {"full": "full", "no_noise": "no noise", "no_consistency": "no consistency", "no_intra": "no intra loss"}
    rows = [[labels.get(k, k), f3(v["r1"]), f3(v["r5"])] for k, v in ab.items()]
    syn = c.get("synthetic")
    if syn:
        rows.append([f"synthetic ground truth (oracle {f3(syn['oracle_r1'])})", f3(syn["r1"]), f3(syn.get("r5"))])
    if not rows:
        raise Missing("cmcr")
    return table(["variant", "R@1", "R@5"], rows)


# ----------------------------------------------------------------------------------------------- widget
def widget_table() -> str:
    w = load("widget")
    rows = [
        [
            f"{r['n']:,}",
            secs(r.get("python_to_first_frame_s")),
            secs(r.get("lasso_to_python_s"), 3),
            secs(r.get("update_positions_s")),
            f"{r.get('bytes_sent', 0):,} / {r.get('raw_bytes', 0):,}",
        ]
        for r in w.get("runs", [])
        if "error" not in r
    ]
    if not rows:
        raise Missing("widget")
    return table(
        [
            "points",
            "cell run → first frame",
            "lasso → Python sees indices",
            "update positions",
            "bytes sent / raw binary",
        ],
        rows,
    )


def widget_chorus() -> str:
    c = load("widget").get("chorus")
    if not c:
        raise Missing("widget")
    rows = [
        ["gallery's first page after `w.selected = ...`", secs(c.get("gallery_open_s"))],
        ["search (query embedded, every vector scanned)", secs(c.get("search_s"))],
        ["round panel and trails painted after `w.align` returns", secs(c.get("round_panel_s"))],
        ["every point at its new place", secs(c.get("round_points_s"))],
        ["the round itself", secs(c.get("align_s"))],
    ]
    return f"`Chorus` of {c['n']:,} points:\n\n" + table(["step", "time"], rows)


# ----------------------------------------------------------------------------------------------- encode
def encode_table() -> str:
    e = load("encode")
    rows = [
        [
            "embedded default (digits): held-out zero-shot accuracy",
            f"{f3(e['default_zero_shot_acc'])} ({e['default_n_test']} images)",
        ],
        ["`load_default()`", secs(e["default_load_s"])],
        ["default model: images / s", num(e["encode_images_per_s"])],
        ["default model: texts / s", num(e["encode_texts_per_s"])],
        ["open_clip ViT-B-32 architecture, random weights: images / s", num(e.get("vitb32_images_per_s"))],
        ["open_clip ViT-B-32 architecture, random weights: texts / s", num(e.get("vitb32_texts_per_s"))],
        ["COCO-500 image → text top-1 as `load_coco500` reads it", f3(e.get("coco500_i2t_top1"))],
    ]
    return table(["figure", "value"], rows) + f"\n\n{e.get('threads', '?')} torch threads, {loadavg(e)}."


# ----------------------------------------------------------------------------------------------- reliability
def reliability_summary() -> str:
    r = load("reliability")
    rows = [
        [
            "bad inputs with a clear error / state unchanged",
            f"{r['bad_inputs_clear_error']} / {r['bad_inputs_state_unchanged']} of {r['bad_inputs_tried']}",
        ],
        ["interruptions survived", f"{r['interrupts_survived']} of {r['interrupts_tried']}"],
        ["state lost", r["state_lost"]],
        ["hostile files refused", f"{r['hostile_files_refused']} of {r['hostile_files_tried']}"],
        ["peak RSS of a fresh process refusing a 10 GiB zip bomb", f"{num(r.get('zip_bomb_peak_rss_mb'))} MB"],
        ["autosave recovers the last round after SIGKILL", yes(r.get("autosave_recovered"))],
        [
            "lasso of 2,000,000 points under the server's default 10 MiB websocket limit",
            yes(r.get("default_ws_limit_ok")),
        ],
        ["comm fuzzing: messages tried / escaped", f"{r.get('comm_fuzz_cases')} / {r.get('comm_fuzz_escaped')}"],
        ["a second `align` while one runs is refused", yes(r.get("concurrent_align_ok"))],
        [
            "peak RSS for 1,000,000 × 512 embeddings (set + MFM transform + widget payload)",
            f"{num(r.get('peak_rss_gb_1m'))} GiB",
        ],
        ["5,000,000 points: points shown", num(r.get("points_shown_5m"))],
        ["5,000,000 points: largest comm buffer", f"{num(r.get('max_message_buffer_mb'))} MiB"],
    ]
    return table(["figure", "value"], rows)


def _strip_tmp(msg: str) -> str:
    return re.sub(r"/tmp/[^:' /]+/", "", str(msg))


def bad_inputs() -> str:
    r = load("reliability")
    rows = []
    for o in r["bad_inputs"]:
        what = f"`{o['raised']}`: {_strip_tmp(o['message'])}" if o["raised"] else "accepted (gap)"
        if not o["ok"]:
            what += f" **(gap: {'; '.join(o['problems'])})**"
        rows.append([cell(o["name"]), f"`{cell(o['where'])}`", cell(what)])
    return table(["bad input", "where", "what happens"], rows)


def hostile_files() -> str:
    r = load("reliability")
    rows = []
    for o in r.get("hostile_files", []):
        msg = _strip_tmp(o["message"])
        what = f"`{o['raised']}`: {msg}" if o["refused"] else f"**(gap: {o['raised']}: {msg})**"
        rows.append([cell(o["name"]), f"`{cell(o['where'])}`", cell(what)])
    return table(["hostile file", "where", "what happens"], rows)


def interrupts() -> str:
    r = load("reliability")
    rows = []
    for i in r["interrupts"]:
        state = "intact and usable" if i["survived"] else f"**lost: {', '.join(map(str, i['state_lost']))}**"
        rows.append([cell(i["name"]), state])
    return table(["interrupted work", "previous state afterwards"], rows)


# ----------------------------------------------------------------------------------------------- scale
def scale_table() -> str:
    s = load("scale")
    rows = [
        ["rows", num(s.get("rows")), ""],
        ["encode in the driver process, rows / s", num(s.get("local_rows_per_s")), ""],
        [
            "encode on Ray (2 actors, pool start and model load included), rows / s",
            num(s.get("ray_rows_per_s")),
            "≥ 0.75 × local",
        ],
        ["MFM transform of every row on Ray, rows / s", num(s.get("ray_project_rows_per_s")), ""],
        ["largest difference local vs Ray (embeddings, positions)", s.get("max_abs_diff_local_vs_ray"), "≤ 1e-6"],
        ["driver peak RSS", f"{num(s.get('driver_peak_rss_gb'))} GB", "< 2 GB"],
        ["lasso over every position", secs(s.get("lasso_full_s"), 3), "< 2 s"],
        ["an actor killed after its first shard: every id once", yes(s.get("kill_worker_ok")), "yes"],
        ["stopped halfway and re-run: finished shards skipped, every id once", yes(s.get("resume_ok")), "yes"],
        ["clip-retrieval's shard layout", yes(s.get("clip_retrieval_layout_ok")), "yes"],
    ]
    return table(["figure", "value", "target"], rows)


def scale_fit_table() -> str:
    """MFM's fit against UMAP and openTSNE in one process, and a million rows in one process."""
    s = load("scale-fit")

    def ratio(k):
        r = s.get(k)
        return "n/a" if r is None else f"{r:.3f}"

    rows = []
    for lab, n in (("10k", "10,000"), ("100k", "100,000"), ("1m", "1,000,000")):
        if s.get(f"mfm_fit_s_{lab}") is None:
            continue
        rows.append([
            f"fit, {n} points", secs(s.get(f"mfm_fit_s_{lab}"), 1), secs(s.get(f"umap_fit_s_{lab}"), 1),
            secs(s.get(f"opentsne_fit_s_{lab}"), 1),
            f"{ratio(f'mfm_over_umap_{lab}')} / {ratio(f'mfm_over_opentsne_{lab}')}",
        ])  # fmt: skip
    if not rows:
        raise Missing("scale-fit")
    out = table(["", "MFM", "UMAP", "openTSNE", "MFM / UMAP, MFM / openTSNE"], rows)
    one = [
        ["MFM transform of 1,000,000 vectors", secs(s.get("mfm_transform_1m_s"), 1), ""],
        ["a point-set round on 1,000,000 rows, fast mode", secs(s.get("round_fast_1m_s"), 2), "< 5 s"],
        ["the same round, anchor mode", secs(s.get("round_anchors_1m_s"), 2), "< 5 s"],
        ["each again at once, mapping its own memory (fast, anchors)",
         f"{secs(s.get('round_fast_1m_back_to_back_s'), 2)}, {secs(s.get('round_anchors_1m_back_to_back_s'), 2)}", ""],
        ["a relabel round through the widget's state, guard on 20 prompts, fast mode",
         secs(s.get("widget_round_fast_1m_s"), 2), ""],
        ["the same, anchor mode", secs(s.get("widget_round_anchors_1m_s"), 2), ""],
        ["`Chorus(es_1m, projector=MFM())`: first frame (PCA), kernel side", secs(s.get("chorus_1m_first_frame_s"), 1), ""],
        ["... the MFM map replaces it", secs(s.get("chorus_1m_mfm_ready_s"), 1), "≤ 90 s"],
    ]  # fmt: skip
    return out + "\n\n" + table(["a million rows", "wall", "target"], one) + f"\n\nDevice: {s.get('device', 'cpu')}."


def scale_fit_quality() -> str:
    """Tx@10, Cx@10 and Ti@10 of MFM, DCM-t-SNE and UMAP on held-out shapes pairs at each size."""
    q = load("scale-fit").get("quality") or {}
    rows = []
    for lab, n in (("10k", "10,000"), ("100k", "100,000"), ("1m", "1,000,000")):
        for method, f in (q.get(lab) or {}).items():
            rows.append(
                [n, method, f3(f.get("Tx@10")), f3(f.get("Cx@10")), f3(f.get("Ti@10")), secs(f.get("fit_s"), 1)]
            )
    if not rows:
        raise Missing("scale-fit")
    return table(["points", "method", "Tx@10", "Cx@10", "Ti@10", "fit"], rows)


# ----------------------------------------------------------------------------------------------- fixes
FIX_METHODS = ("default", "default_guarded", "tuned", "tip_adapter", "taskres", "clip_adapter", "linear_probe_upper")


def fixes_table() -> str:
    """Each case x method: held-out target gain / worst drop outside the target / the strength alpha."""
    f = load("fixes")
    cases = [c for c in f if isinstance(f[c], dict) and "_before" in f[c]]
    if not cases:
        raise Missing("fixes")

    def cell_of(r):
        if r is None:
            return "–"
        if r.get("note"):
            return "n/a"
        drop, alpha = r.get("worst_other_drop"), r.get("alpha")
        return f"{r['target_gain']:+.3f} / {'–' if drop is None else f'{drop:.3f}'} / {'–' if alpha is None else f'{alpha:g}'}"

    rows = [[c, f3(f[c]["_before"]["target"])] + [cell_of(f[c].get(m)) for m in FIX_METHODS] for c in cases]
    out = table(["case", "target before"] + [f"`{m}`" for m in FIX_METHODS], rows)
    sp = f.get("speed_10k") or {}
    if sp:
        out += (
            f"\n\nOne default round with the guard on {sp['n']:,} rows: {secs(sp['round_s'], 2)} "
            f"(alpha {sp['alpha']:g}; {secs(sp['round_s_unguarded'], 2)} without the guard)."
        )
    if f.get("load_average") is not None:
        out += f"\n\nLoad average {f['load_average']:.1f} at the end of the run ({f.get('seconds', 0):.0f} s)."
    return out


def fixes_frontier_table() -> str:
    """benchmarks/fixes_frontier.py: each case's default (and tuned) round read held out at a few strengths, and
    the best held-out gain any strength reaches within the tolerance, beside what the guard picked."""
    f = load("fixes")
    cases = [c for c in f if isinstance(f[c], dict) and f[c].get("frontier")]
    if not cases:
        raise Missing("fixes")
    shown = (0.1, 0.2, 0.5, 1.0)

    def at(curve, a):
        p = next((p for p in curve if abs(p["alpha"] - a) < 1e-9), None)
        if p is None:
            return "–"
        drop = p["worst_other_drop"]  # four significant digits: 0.0101 is over the tolerance, 0.010 would not read so
        return f"{p['target_gain']:+.3f} / {'–' if drop is None else f'{drop:.4g}'}"

    rows = []
    for c in cases:
        for name, fr in f[c]["frontier"].items():
            best = fr["best_within_tolerance"]
            guarded = f[c].get("default_guarded") if name == "default" else None  # the guard's pick of this round
            rows.append(
                [c, f"`{name}`"]
                + [at(fr["curve"], a) for a in shown]
                + ["–" if best is None else f"{best['target_gain']:+.3f} (alpha {best['alpha']:g})"]
                + ["–" if not guarded else f"{guarded['target_gain']:+.3f} (alpha {guarded['alpha']:g})"]
            )
    head = ["case", "round"] + [f"alpha {a:g}" for a in shown] + ["best within the tolerance", "`default_guarded`"]
    return table(head, rows)


def anchor_cv_table() -> str:
    """scripts/anchor_cv.py: each candidate's mean criterion and how many left-out folds picked it."""
    a = load("anchor-cv")
    picks = [v["pick"] for v in a["loo"].values()]
    base = a["candidates"].get("before", {})

    def diff(p):
        d = {k: v for k, v in p.items() if base.get(k) != v}
        return ", ".join(f"{k}={v}" for k, v in d.items()) or "(anchor mode's settings before the choice)"

    rows = [
        [f"`{c}`", f"{a['mean_criterion'][c]:.4f}", str(picks.count(c)), diff(p)] for c, p in a["candidates"].items()
    ]
    return table(["candidate", "mean criterion", "folds that pick it", "settings that differ from `before`"], rows) + (
        f"\n\n{len(picks)} cases (folds); load average {a['load_average']:.1f}."
    )


def fast_cv_table() -> str:
    """scripts/fast_cv.py: each candidate's mean criterion per world, and each left-out world's pick."""
    a = load("fast-cv")
    world = {n: n.rsplit("_", 1)[0] for n in a["criterion"]}
    worlds = sorted(set(world.values()))

    def mean(c, w):
        return sum(v[c]["criterion"] for n, v in a["criterion"].items() if world[n] == w) / max(
            1, sum(world[n] == w for n in a["criterion"])
        )

    rows = [
        [f"`{c}`", ", ".join(f"{k}={v}" for k, v in p.items()) or "(fast mode's defaults)"]
        + [f"{mean(c, w):+.4f}" for w in worlds]
        + [f"{a['mean_criterion'][c]:+.4f}"]
        for c, p in a["candidates"].items()
    ]
    out = table(["candidate", "settings", *worlds, "all folds"], rows)
    lowo = [
        [w, f"`{v['pick']}`", f"{v['left_out_criterion']:+.4f}", f"{v['left_out_criterion_default']:+.4f}"]
        for w, v in a["leave_one_world_out"].items()
    ]
    out += "\n\n" + table(
        ["world left out", "pick of the other worlds", "its criterion there", "the defaults' there"], lowo
    )
    return out + f"\n\n{len(a['criterion'])} folds in {len(worlds)} worlds; load average {a['load_average']:.1f}."


def guard_cv_table() -> str:
    """scripts/guard_cv.py --measure: each rule's criterion per round, the folds' picks, and the held-out figures
    of the case-guarded rounds under the shipped rules and the same rules with the largest alpha."""
    a = load("guard-cv")
    picks = [v["pick"] for v in a["loo"].values()]
    keys = list(a["criterion"])

    def rules(r):
        floor = {1: "1", 10: "10", None: "1 / tolerance"}.get(r.get("min_count"), str(r.get("min_count")))
        return f"floor {floor}, keep_selected {r.get('keep_selected', False)}, pick {r.get('pick', 'largest')}"

    rows = [
        [f"`{c}`" + (" (shipped)" if c == a.get("shipped") else ""), rules(r)]
        + [f"{a['criterion'][k][c]['criterion']:+.4f}" for k in keys]
        + [str(picks.count(c))]
        for c, r in a["candidates"].items()
    ]
    out = table(["rules", "settings", *keys, "folds that pick it"], rows)
    shipped = a.get("shipped")
    largest = shipped[: -len("_best")] if shipped and shipped.endswith("_best") else None
    if largest in a["held_out_all"].get(keys[0], {}):
        held = []
        for k in keys:
            row = [k]
            for c in (largest, shipped):
                h = a["held_out_all"][k][c]["case_guard"]
                row.append(f"{h['target_gain']:+.3f} / {h['worst_other_drop']:.3f} / {h['alpha']:g}")
            held.append(row)
        out += "\n\n" + table(["round (case guard)", f"`{largest}`", f"`{shipped}`"], held)
    return out + f"\n\n{len(picks)} cases left out in turn; load average {a['load_average']:.1f}."


# ----------------------------------------------------------------------------------------------- probe
def probe_table() -> str:
    p = load("probe")
    names = {"shapes": "shapes", "digits_user_prompt": "digits_user_prompt", "coco_planted": "coco_planted"}
    rows = []
    for key, label in names.items():
        w = p.get(key)
        if not w:
            continue
        seeds = w.get("per_seed")
        if seeds:
            label += f" (mean of seeds {', '.join(seeds)})"
        rows.append([label, f3(w["recall_at_5"]), f3(w["precision_at_5"]), f"{w['probe_s']:.1f}"])
    if not rows:
        raise Missing("probe")
    return table(["world", "recall@5", "precision@5", "probe s (wall)"], rows) + (
        f"\n\nLoad average {p['load_at_start']:.1f} at the start." if p.get("load_at_start") is not None else ""
    )


def probe_scale() -> str:
    p = load("probe")
    rows = [
        [f"{n:,} rows", secs(p.get(f"probe_s_{k}"), 1), secs(p.get(f"probe_cpu_s_{k}"), 1),
         f"{num(p.get(f'probe_peak_rss_gb_{k}'))} GB", f"{p[f'load_{k}']:.1f}" if p.get(f"load_{k}") else "n/a"]
        for n, k in ((100_000, "100k"), (1_000_000, "1m"))
        if p.get(f"probe_s_{k}") is not None
    ]  # fmt: skip
    if not rows:
        raise Missing("probe")
    return table(["probe of", "wall", "CPU", "peak RSS", "load average"], rows)


# ----------------------------------------------------------------------------------------------- headline
def headline(start: str = ".") -> str:
    """The README's one table: a headline figure per benchmark, linked to its page (links relative to the
    folder ``start`` of the page that shows the table)."""

    def link(name, text):
        return f"[{text}]({os.path.relpath(PAGES[name], start)})"

    rows = []

    def add(name, what, value_fn):
        try:
            rows.append([link(name, what), value_fn()])
        except (Missing, KeyError, TypeError):
            rows.append([link(name, what), f"not measured yet (`{COMMANDS[name]}`)"])

    def proj():
        m = load("projection")["MFM"]
        return f"MFM Tx@10 {m['Tx@10']:.3f}, Cx@10 {m['Cx@10']:.3f} on COCO-500 (best of 8 methods)"

    def zs():
        c = load("cases")
        return (
            f"red squares {c['zero_shot_target_before']:.3f} → {c['zero_shot_target_after']:.3f} held out; "
            f"largest loss elsewhere {c['zero_shot_untouched_max_drop']:.3f}"
        )

    def comp():
        c = load("cases")
        return f"ARO attribute {c['aro_attribute_before']:.3f} → {c['aro_attribute_after']:.3f}, relation {c['aro_relation_before']:.3f} → {c['aro_relation_after']:.3f}"

    def ret():
        r = load("alignment")["retrieval"]
        return f"COCO-500 image→text R@1 {r['i2t_r1_before']:.3f} → {r['i2t_r1_after']:.3f} (one round)"

    def cm():
        co = load("cmcr")["coco_minilm"]
        return f"MiniLM → CLIP image R@1 {co['r1']:.3f} with no paired data"

    def wid():
        runs = {r["n"]: r for r in load("widget")["runs"] if "error" not in r}
        n = max(runs)
        return f"{n:,} points: first frame {runs[n]['python_to_first_frame_s']:.2f} s, lasso → Python {runs[n]['lasso_to_python_s']:.3f} s"

    def rel():
        r = load("reliability")
        return f"{r['bad_inputs_clear_error']}/{r['bad_inputs_tried']} bad inputs with a clear error, {r['hostile_files_refused']}/{r['hostile_files_tried']} hostile files refused, state lost {r['state_lost']}"

    def sc():
        s = load("scale")
        return f"{s['rows']:,} rows encoded on Ray at {s['ray_rows_per_s']:,.0f} rows/s; driver peak {s['driver_peak_rss_gb']:.2f} GB"

    def sf():
        s = load("scale-fit")
        return (
            f"MFM fit on 100,000 points {s['mfm_fit_s_100k']:.1f} s (UMAP {s['umap_fit_s_100k']:.0f} s); "
            f"a round on 1,000,000 rows {s['round_fast_1m_s']:.1f} s (fast), {s['round_anchors_1m_s']:.1f} s (anchors)"
        )

    def pr():
        p = load("probe")
        return (
            f"suspects found without labels: recall@5 {p['shapes']['recall_at_5']:.2f} (shapes), "
            f"{p['digits_user_prompt']['recall_at_5']:.2f} (digits), {p['coco_planted']['recall_at_5']:.2f} (COCO, planted)"
        )

    def fx():
        f = load("fixes")
        cases = [c for c in f if isinstance(f[c], dict) and "_before" in f[c]]
        gained = [f[c]["default_guarded"] for c in cases if f[c]["default_guarded"]["target_gain"] > 0]
        held = sum(r["worst_other_drop"] is not None and r["worst_other_drop"] <= 0.01 for r in gained)
        return (
            f"default settings with the guard, held out: the target gains on {len(gained)} of {len(cases)} cases; "
            f"on {held} of those {len(gained)} nothing else loses more than a point"
        )

    add("projection", "Projection quality", proj)
    add("probe", "Suspects (the probe)", pr)
    add("cases", "Zero-shot fix (case 1, case-tuned settings)", zs)
    add("cases", "Compositional fix (case 2, case-tuned settings)", comp)
    add("alignment", "Retrieval alignment", ret)
    add("fixes", "Fixes at default settings", fx)
    add("cmcr", "C-MCR", cm)
    add("widget", "Widget speed", wid)
    add("reliability", "Reliability", rel)
    add("scale-fit", "Speed at a million rows", sf)
    add("scale", "Scale on Ray", sc)
    return table(["benchmark", "headline figure"], rows)


TABLES = {
    "projection": projection_table,
    "projection-scale": projection_scale,
    "alignment-retrieval": alignment_retrieval,
    "alignment-zero-shot": alignment_zero_shot,
    "alignment-speed": alignment_speed,
    "cases": cases_table,
    "cases-rounds": cases_rounds,
    "cmcr": cmcr_table,
    "cmcr-ablation": cmcr_ablation,
    "widget": widget_table,
    "widget-chorus": widget_chorus,
    "encode": encode_table,
    "reliability": reliability_summary,
    "bad-inputs": bad_inputs,
    "hostile-files": hostile_files,
    "interrupts": interrupts,
    "scale": scale_table,
    "scale-fit": scale_fit_table,
    "scale-fit-quality": scale_fit_quality,
    "probe": probe_table,
    "probe-scale": probe_scale,
    "fixes": fixes_table,
    "fixes-frontier": fixes_frontier_table,
    "anchor-cv": anchor_cv_table,
    "fast-cv": fast_cv_table,
    "guard-cv": guard_cv_table,
    "headline": headline,
    "headline-docs": lambda: headline("docs/benchmarks"),
}


def render(name: str) -> str:
    """The markdown of table ``name``; a note with the command to run when its JSON is missing."""
    fn = TABLES[name]
    try:
        return fn()
    except Missing as exc:
        source = str(exc)
        return f"*Not measured yet: run `{COMMANDS[source]}`, then `python scripts/gen_docs.py`.*"
