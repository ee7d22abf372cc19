"""The package's Adam(W) and schedules (modalchorus_widget._optim) match torch.optim to the bit, and spare a fresh
process torch.optim.Optimizer's import of torch._dynamo."""

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from modalchorus_widget import _optim  # noqa: E402


def _run(make_opt, make_sched, steps=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    x, y = torch.randn(32, 6, generator=g), torch.randn(32, 3, generator=g)
    opt = make_opt(net.parameters())
    sched = make_sched(opt) if make_sched else None
    for _ in range(steps):
        loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        ((lambda p: _optim.Adam(p, lr=3e-3), None), (lambda p: torch.optim.Adam(p, lr=3e-3), None)),
        (
            (
                lambda p: _optim.Adam(p, lr=1e-2),
                lambda o: _optim.OneCycle(o, max_lr=1e-2, total_steps=40, pct_start=0.1),
            ),
            (
                lambda p: torch.optim.Adam(p, lr=1e-2),
                lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1e-2, total_steps=40, pct_start=0.1),
            ),
        ),
        (
            (lambda p: _optim.AdamW(p, lr=5e-3, weight_decay=0.05), lambda o: _optim.CosineAnnealing(o, T_max=40)),
            (
                lambda p: torch.optim.AdamW(p, lr=5e-3, weight_decay=0.05),
                lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40),
            ),
        ),
    ],
    ids=["adam", "adam-onecycle", "adamw-cosine"],
)
def test_updates_equal_torch_optim_bit_for_bit(ours, theirs):
    a, b = _run(*ours), _run(*theirs)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, _run(*ours, steps=39)))  # the steps did move them


def test_one_cycle_refuses_a_step_past_its_end():
    opt = _optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=1e-2)
    sched = _optim.OneCycle(opt, max_lr=1e-2, total_steps=2)
    sched.step(), sched.step()
    with pytest.raises(ValueError, match="past its 2 steps"):
        sched.step()


def test_a_fresh_process_fits_without_importing_torch_dynamo():
    code = (
        "import sys, numpy as np\n"
        "from modalchorus_widget import MFM, Aligner, PointSet, load_default\n"
        "d = load_default('shapes')\n"
        "MFM(random_state=0, n_steps=20, n_distill_steps=20).fit(d.embeddings)\n"
        "Aligner(n_steps=5).fit(d.embeddings).step(PointSet(int(d.prompt_index[0]), d.train[:5]))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
