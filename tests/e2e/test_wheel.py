"""The wheel, outside the repository: built, installed into a new virtual environment in a temporary folder, then
imported, its version checked against the metadata, the quickstart notebook run with that environment's kernel,
and one widget opened in a real JupyterLab served from that environment.

How the new environment gets its heavy dependencies: a fully fresh install (torch, open_clip, umap, ray,
JupyterLab, ... from the package index) took 12.5 minutes on the 2-core development machine under load, too long
for every `make test`. So by default the new environment reaches the project environment's site-packages through
a ``.pth`` line, for the dependencies only: ``.pth`` files in that folder are not processed (it is not a site
directory of the new environment), so the project's editable install of this package is invisible there, and pip
installs the wheel itself into the new environment, checking its declared requirements against what it finds.
``MODALCHORUS_WHEEL_FRESH=1`` installs every dependency from the index instead (no ``.pth``; slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_WHEEL_MB = 15

pytestmark = pytest.mark.slow


def _run(cmd, timeout=900, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "MODALCHORUS"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "jcfg"), JUPYTER_DATA_DIR=str(home / "jdata"))
    env["JUPYTER_RUNTIME_DIR"] = str(home / "jrun")
    return env


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """(python of the new environment, the wheel, its environment variables, install seconds)."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT], cwd=ROOT)
    (wheel,) = dist.glob("modalchorus_widget-*.whl")
    _run([sys.executable, "-m", "check_wheel_contents", wheel])
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    fresh = os.environ.get("MODALCHORUS_WHEEL_FRESH") == "1"
    if not fresh:
        site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
        (site / "_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = _clean_env(base / "home")
    t0 = time.perf_counter()
    extra = ["jupyterlab", "nbclient", "ipykernel"]  # to run the notebook and serve the widget from there
    _run([python, "-m", "pip", "install", "-q", wheel, *extra], cwd=base, env=env, timeout=3600)
    if not fresh:  # the widget managers' JupyterLab extensions are data files, out of a .pth's reach
        _run([python, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", "jupyterlab_widgets", "anywidget"],
             cwd=base, env=env)  # fmt: skip
    seconds = time.perf_counter() - t0
    print(
        f"\nwheel {wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB; installed in {seconds:.1f} s ({'fresh' if fresh else 'dependencies via .pth'})"
    )
    return python, wheel, env, base


def test_wheel_holds_the_front_end_weights_and_data(wheel_env):
    _, wheel, _, _ = wheel_env
    assert wheel.stat().st_size < MAX_WHEEL_MB * 1e6
    names = set(zipfile.ZipFile(wheel).namelist())
    for need in (
        "modalchorus_widget/static/widget.js",
        "modalchorus_widget/static/widget.css",
        "modalchorus_widget/weights/default_shapes.safetensors",
        "modalchorus_widget/weights/default_digits.safetensors",
        "modalchorus_widget/data/coco500/clip_vitb16_img_txt.npy",
        "modalchorus_widget/data/coco500/captions.json",
    ):
        assert need in names, f"{need} is not in the wheel"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "js/")) for n in names)


def test_installed_package_is_the_wheel_and_its_version_agrees(wheel_env):
    python, _, env, base = wheel_env
    out = _run(
        [
            python,
            "-c",
            "import json, importlib.metadata as md, modalchorus_widget as m;"
            "from modalchorus_widget import load_coco500;"
            "print(json.dumps([m.__file__, m.__version__, md.version('modalchorus-widget'),"
            " load_coco500().embeddings.n]))",
        ],
        cwd=base,
        env=env,
    )
    path, version, meta, n = json.loads(out.strip().splitlines()[-1])
    assert Path(path).is_relative_to(base / "venv"), f"imported from {path}, not from the new environment"
    assert version == meta
    assert n == 1000


def test_quickstart_runs_with_that_environments_kernel(wheel_env):
    python, _, env, base = wheel_env
    work = base / "nb"
    work.mkdir(exist_ok=True)
    nb = work / "quickstart.ipynb"
    nb.write_text((ROOT / "notebooks" / "quickstart.ipynb").read_text())
    code = (
        "import sys, nbformat; from nbclient import NotebookClient;"
        "nb = nbformat.read(sys.argv[1], as_version=4);"
        "nb.cells.insert(0, nbformat.v4.new_code_cell('import sys, modalchorus_widget; "
        "print(sys.executable, modalchorus_widget.__file__)'));"
        "NotebookClient(nb, timeout=1200, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute();"
        "print(nb.cells[0].outputs[0]['text'])"
    )
    out = _run([python, "-c", code, nb, work], cwd=work, env=env, timeout=1800)
    kernel_python, package = out.strip().splitlines()[-1].split()
    assert Path(kernel_python).parent == python.parent, f"the kernel ran {kernel_python}"
    assert Path(package).is_relative_to(base / "venv")


@pytest.mark.e2e
def test_a_widget_opens_in_jupyterlab_served_from_that_environment(wheel_env, browser):
    from benchmarks.browser import Lab, NotebookPage, new_page

    python, _, _, base = wheel_env
    lab = Lab(base / "lab", python=str(python)).start()
    try:
        name = lab.write_notebook(
            "wheel.ipynb",
            [
                "import sys, modalchorus_widget\nfrom modalchorus_widget import Chorus, load_coco500\n"
                "w = Chorus(load_coco500().embeddings, projector='PCA')\nw"
            ],
        )
        page = NotebookPage(lab, new_page(browser), name).open_and_run()
        try:
            root = page.wait_widget(0, timeout=180)
            assert int(root.get_attribute("data-n")) == 1000
            where = page.kernel.value("[sys.executable, modalchorus_widget.__file__]")
            assert Path(where[0]).parent == python.parent, f"the kernel ran {where[0]}"
            assert Path(where[1]).is_relative_to(base / "venv")
            page.screenshot("wheel-lab.png", root)
        finally:
            page.close()
    finally:
        lab.stop()
