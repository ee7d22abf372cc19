"""The cases bench's third case: text-to-image generation, measured with the shapes oracle.

"a red square" generated as a red circle (the prior draws from training scenes, 97 % of red objects being
circles); one round from lasso-style selections on the training split (``generation/case.py``:
the training red squares set-set pulled with the red-square prompts, the training red circles pushed from
each of them), on the notebook's map (training scenes, prompts, and the generations as their own set); generations of held-out paraphrases (``case.EVAL_TEMPLATES``, never in the set) read by the
oracle before and after.
"""

from __future__ import annotations

import time


def plot_generations(before, after, png, n: int = 16) -> None:
    """A picture of the round: the first ``n`` generations of the target prompts and of two other seen classes,
    before and after, each row labelled with what the oracle read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from modalchorus_widget.worlds import shapes as S
    from modalchorus_widget.worlds.generation import case as G

    shown = [G.TARGET, S.COMBOS.index(("red", "triangle")), S.COMBOS.index(("blue", "square"))]
    names = S.class_names()
    rows, labels = [], []
    for c in shown:
        for when, fig in (("before", before), ("after", after)):
            rows.append(np.concatenate(list(fig["images"][c][:n]), axis=1))
            labels.append(f'"{names[c]}" prompts, {when}: {fig["per_class"][names[c]]:.0%} read as {names[c]}')
    side = rows[0].shape[0]
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    grid = np.concatenate([x for r in rows for x in (r, gap)][:-1])
    fig, ax = plt.subplots(figsize=(n * 0.55, len(rows) * 0.62))
    ax.imshow(grid, interpolation="nearest")
    ax.set_yticks([i * (side + 4) + side / 2 for i in range(len(rows))], labels, fontsize=8)
    ax.set_xticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)
    ax.set_title("Generations of held-out paraphrases, before and after one round (shapes world)", fontsize=9)
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)


def run_generation(png=None) -> dict:
    from modalchorus_widget import Aligner
    from modalchorus_widget.worlds.generation import ShapesOracle, load_shapes_generator
    from modalchorus_widget.worlds.generation import case as G
    from modalchorus_widget.worlds.generation.sets import add_generations
    from modalchorus_widget.worlds.shapes_encoder import load_shapes_encoder

    enc = load_shapes_encoder()
    gen, oracle = load_shapes_generator(), ShapesOracle()
    case = G.generation_case(enc)
    before = G.generation_figures(gen, oracle, enc)
    prompts = [t for t in G.prompt_texts(G.TARGET) for _ in range(G.N_PER_TEXT)]
    es = add_generations(case["embeddings"], before["images"][G.TARGET], enc, prompts, "generated: a red square")
    al = Aligner(encoder=enc, **G.SETTINGS).fit(es)  # the map of the notebook: scenes, prompts, generations
    cons = G.case_constraints(case)
    t0 = time.perf_counter()
    rnd = al.step(*cons)
    round_s = time.perf_counter() - t0
    after = G.generation_figures(gen, oracle, enc, al)
    if png is not None:
        plot_generations(before, after, png)
    held = oracle.config["held_out"]
    return {
        "gen_leak_before": round(before["leak"], 4),
        "gen_leak_after": round(after["leak"], 4),
        "gen_target_acc_before": round(before["target_acc"], 4),
        "gen_target_acc_after": round(after["target_acc"], 4),
        "gen_other_prompts_acc_before": round(before["other_acc"], 4),
        "gen_other_prompts_acc_after": round(after["other_acc"], 4),
        "gen_drawn_leak_before": round(before["drawn_leak"], 4),
        "gen_drawn_leak_after": round(after["drawn_leak"], 4),
        "gen_drawn_other_acc_before": round(before["drawn_other_acc"], 4),
        "gen_drawn_other_acc_after": round(after["drawn_other_acc"], 4),
        "per_class_before": {k: round(v, 4) for k, v in before["per_class"].items()},
        "per_class_after": {k: round(v, 4) for k, v in after["per_class"].items()},
        "oracle_acc": held["generated"]["acc"],
        "oracle_acc_clean": held["clean"]["acc"],
        "n_per_class": before["n_per_class"],
        "selected": int(len(case["squares"]) + len(case["circles"]) + len(case["prompt_rows"])),
        "steps": int(rnd.report.get("steps", -1)),
        "round_s": round(round_s, 3),
    }
