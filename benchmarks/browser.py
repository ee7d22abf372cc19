"""Drive a real JupyterLab in headless Chromium (Playwright): the widget benchmark's and the browser tests' lab.

``Lab``'s kernels serve the widget's test bundle (``TEST_BUNDLE``: the front end with its test hooks,
``globalThis.__modalchorus`` and timing stamps, see ``js/src/test_hooks.js``); the tests and the benchmark read
the widget's state through them. ``Lab`` starts JupyterLab on 127.0.0.1 with its own HOME/config/data/runtime dirs, a token and a free port,
the announcements pop-up disabled, and stops it by PID (process group). ``KernelDriver`` runs code in a
notebook's kernel through its connection file and reads values back as JSON. ``NotebookPage`` opens a
notebook in a Playwright page, runs its cells, waits for widgets and draws lassos with the mouse.
Playwright and jupyter_client are imported lazily.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "test-output"
# the front end with its test hooks (js/src/test_hooks.js: globalThis.__modalchorus, timing stamps), built by
# `cd js && npm run build` beside the shipped bundle, which has none; the kernels ``Lab`` starts serve it
TEST_BUNDLE = REPO / "js" / "dist" / "widget.test.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def chromium_path() -> str | None:
    """Debian's chromium binary (``apt-get install -y chromium``), or None."""
    return shutil.which("chromium")


def launch_browser(playwright):
    """Headless Chromium from Debian's binary with the flags this machine needs."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)


def new_page(browser, width: int = 1400, height: int = 1000):
    """A page in its own browser context (the widget's test hooks come with the test bundle ``Lab`` serves)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    return context.new_page()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FRONT_ENDS = {"lab": "jupyterlab", "notebook": "notebook"}  # front end -> the module that serves it


class Lab:
    """A running Jupyter server with a front end (started and stopped by PID): ``front_end`` "lab" is JupyterLab,
    "notebook" is Jupyter Notebook 7 (the same server and widget manager, another page layout and URLs)."""

    def __init__(self, base: Path, front_end: str = "lab", python: str | None = None):
        """``python``: the interpreter of another environment to serve (and run kernels) from, e.g. a virtual
        environment where the package is installed from a wheel; that environment then serves its own installed
        package and shipped bundle (no repository on PYTHONPATH, no test bundle)."""
        if front_end not in FRONT_ENDS:
            raise ValueError(f"front_end must be one of {list(FRONT_ENDS)}, got {front_end!r}")
        self.front_end = front_end
        self.base = base
        self.root = base / "root"
        self.port = _free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.env = None
        self.python = python

    def start(self, timeout: float = 90):
        dirs = {
            k: self.base / k.lower()
            for k in ("HOME", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")
        }
        for d in [self.root, *dirs.values()]:
            d.mkdir(parents=True, exist_ok=True)
        labconfig = dirs["JUPYTER_CONFIG_DIR"] / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        # no "would you like to get notified about news" and no update checks
        settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = dict(os.environ)
        env.update({k: str(v) for k, v in dirs.items()})
        env["JUPYTERLAB_SETTINGS_DIR"] = str(dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings")
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(dirs["JUPYTER_CONFIG_DIR"] / "lab" / "workspaces")
        if self.python is None:
            env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
            if not TEST_BUNDLE.is_file():
                raise RuntimeError(f"the widget's test bundle {TEST_BUNDLE} is missing: run `cd js && npm run build`")
            env["MODALCHORUS_WIDGET_ESM"] = str(TEST_BUNDLE)  # widget/scatter.py serves it, not static/widget.js
        else:  # another environment: nothing of the repository's
            for key in ("PYTHONPATH", "MODALCHORUS_WIDGET_ESM", "VIRTUAL_ENV", "PYTHONHOME"):
                env.pop(key, None)
            env["PATH"] = os.pathsep.join([str(Path(self.python).parent), env.get("PATH", "")])
        self.env = env
        cmd = [
            self.python or sys.executable,
            "-m",
            FRONT_ENDS[self.front_end],
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=",
            "--ServerApp.open_browser=False",
            "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=1e12",
            "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=1e9",
        ]
        # websocket_max_message_size stays at tornado's default (10 MiB): the widget must work within it
        self.log = open(self.base / "jupyterlab.log", "wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited early (code {self.proc.returncode}); see {self.base}/jupyterlab.log"
                )
            try:
                self.api("GET", "/api/status")
                return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer on {self.url} within {timeout} s")

    def api(self, method: str, path: str, body=None):
        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            data = r.read()
        return json.loads(data) if data else None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started (own session)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.log.close()

    def write_notebook(self, name: str, cells: list[str]) -> str:
        nb = {
            "cells": [
                {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
                for src in cells
            ],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (self.root / name).write_text(json.dumps(nb))
        return name

    def kernel_client(self, notebook_name: str, timeout: float = 60):
        """A blocking jupyter_client on the kernel of the open notebook (found via the sessions API)."""
        from jupyter_client import BlockingKernelClient

        deadline = time.time() + timeout
        while time.time() < deadline:
            sessions = self.api("GET", "/api/sessions") or []
            for s in sessions:
                if s.get("path", "").endswith(notebook_name) and s.get("kernel"):
                    cf = Path(self.env["JUPYTER_RUNTIME_DIR"]) / f"kernel-{s['kernel']['id']}.json"
                    if cf.exists():
                        kc = BlockingKernelClient(connection_file=str(cf))
                        kc.load_connection_file()
                        kc.start_channels()
                        try:
                            kc.wait_for_ready(timeout=60)
                        except RuntimeError:
                            # a missed heartbeat on a loaded machine reads as "kernel died": try again
                            kc.stop_channels()
                            time.sleep(1)
                            continue
                        return KernelDriver(kc)
            time.sleep(0.3)
        raise TimeoutError(f"no running kernel for {notebook_name}")


class KernelDriver:
    """Runs code in the notebook's kernel and returns what it printed; ``value`` reads JSON back."""

    def __init__(self, kc):
        self.kc = kc

    def run(self, code: str, timeout: float = 120) -> str:
        msg_id = self.kc.execute(code, store_history=False)
        out, err = [], None
        deadline = time.time() + timeout
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TimeoutError(f"kernel did not finish within {timeout} s: {code[:200]}")
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except Exception:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t, c = msg["msg_type"], msg["content"]
            if t == "stream":
                out.append(c["text"])
            elif t == "error":
                err = "\n".join(c.get("traceback", [])) or f"{c.get('ename')}: {c.get('evalue')}"
            elif t == "status" and c["execution_state"] == "idle":
                break
        if err:
            raise RuntimeError(f"kernel error running {code[:200]!r}:\n{err}")
        return "".join(out)

    def value(self, expr: str, timeout: float = 120):
        text = self.run(f"import json as _j; print('@@' + _j.dumps({expr}))", timeout=timeout)
        line = [ln for ln in text.splitlines() if ln.startswith("@@")][-1]
        return json.loads(line[2:])

    def close(self):
        self.kc.stop_channels()


class NotebookPage:
    """A JupyterLab page with one notebook open, its cells run, and a kernel driver."""

    def __init__(self, lab: Lab, page, name: str, out: Path = OUT):
        self.lab, self.page, self.name, self.out = lab, page, name, Path(out)
        self.kernel: KernelDriver | None = None

    def open_and_run(self, timeout: float = 120):
        page = self.page
        if self.lab.front_end == "notebook":  # Notebook 7: one notebook per page, no workspace to reset
            page.goto(f"{self.lab.url}/notebooks/{self.name}?token={self.lab.token}")
        else:
            page.goto(f"{self.lab.url}/lab/tree/{self.name}?token={self.lab.token}&reset")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
        # wait for the kernel to be idle before running (both front ends have this indicator)
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle'], #jp-main-statusbar :text('Idle')",
            timeout=timeout * 1000,
        )
        self.kernel = self.lab.kernel_client(self.name)
        n_cells = page.locator(".jp-Notebook .jp-Cell").count()
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        for _ in range(n_cells):
            page.keyboard.press("Shift+Enter")
        return self

    def wait_widget(self, index: int = 0, timeout: float = 120):
        """Wait until the index-th widget has drawn its first frame; return its root locator."""
        loc = self.page.locator(".mc-root").nth(index)
        loc.wait_for(timeout=timeout * 1000)
        self.page.wait_for_function(
            "i => { const r = document.querySelectorAll('.mc-root')[i]; return r && r.dataset.ready === '1'; }",
            arg=index,
            timeout=timeout * 1000,
        )
        return loc

    def screenshot(self, name: str, locator=None):
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / name
        (locator or self.page).screenshot(path=str(path))
        return path

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def screen_xy(self, index: int, point: int, view: str = "proj"):
        """Page coordinates of point ``point`` in a widget's view (from the view's camera)."""
        return self.page.evaluate(
            """([i, p, v]) => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[i];
                 const view = v === 'axis' ? e.axis : e.proj; const s = view.screenPosition(p);
                 const r = view.canvas.getBoundingClientRect(); return [r.left + s[0], r.top + s[1]]; }""",
            [index, point, view],
        )

    def screen_xy_all(self, index: int = 0, view: str = "proj"):
        """Page coordinates of every point of a widget's view, as a list of (x, y)."""
        return self.page.evaluate(
            """([i, v]) => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[i];
                 const view = v === 'axis' ? e.axis : e.proj; const r = view.canvas.getBoundingClientRect();
                 const out = []; for (let p = 0; p < view.n; p++) { const s = view.screenPosition(p);
                 out.push([r.left + s[0], r.top + s[1]]); } return out; }""",
            [index, view],
        )

    def view_box(self, index: int = 0, view: str = "proj"):
        return self.page.evaluate(
            """([i, v]) => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[i];
                 const r = (v === 'axis' ? e.axis : e.proj).canvas.getBoundingClientRect();
                 return [r.left, r.top, r.width, r.height]; }""",
            [index, view],
        )

    def lasso(self, polygon, steps_per_edge: int = 8, modifier: str | None = None):
        """Drag a lasso through page-coordinate vertices; ends off the start so it is not a click."""
        m = self.page.mouse
        if modifier:
            self.page.keyboard.down(modifier)
        x0, y0 = polygon[0]
        m.move(x0, y0)
        m.down()
        for x, y in list(polygon[1:]) + [(x0 + 3, y0 + 3)]:
            m.move(x, y, steps=steps_per_edge)
        t_up = time.time()
        m.up()
        if modifier:
            self.page.keyboard.up(modifier)
        return t_up

    def screen_xy_of(self, index: int, points, view: str = "proj"):
        """Page coordinates of several drawn points (browser-side indices) of a widget's view, in one call."""
        return self.page.evaluate(
            """([i, ps, v]) => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[i];
                 const view = v === 'axis' ? e.axis : e.proj; const r = view.canvas.getBoundingClientRect();
                 return ps.map((p) => { const s = view.screenPosition(p); return [r.left + s[0], r.top + s[1]]; }); }""",
            [index, [int(p) for p in points], view],
        )

    def polygon_around(self, index: int, points, view: str = "proj", margin: float = 14):
        """Scroll the ``index``-th widget into view and return an octagon (page coordinates) around its drawn
        points ``points`` (browser-side indices), ready for ``lasso``."""
        self.page.locator(".mc-root").nth(index).scroll_into_view_if_needed()
        return bbox_polygon(self.screen_xy_of(index, points, view), margin)

    def lasso_around(self, index: int, points, view: str = "proj", margin: float = 14, steps_per_edge: int = 8):
        """Lasso, with the mouse, an octagon around drawn points ``points`` of the ``index``-th widget."""
        poly = self.polygon_around(index, points, view, margin)
        self.lasso(poly, steps_per_edge=steps_per_edge)
        return poly

    def lasso_burst(self, index: int, polygons, view: str = "proj"):
        """Draw several lassos back to back in one browser task (synthetic mouse events through the same
        handlers the mouse drives, vertices only): as fast as events can come, faster than the kernel answers."""
        return self.page.evaluate(
            """([i, polys, v]) => { const e = globalThis.__modalchorus.filter(x => x.root.isConnected)[i];
                 const box = (v === 'axis' ? e.axis : e.proj).container;
                 const fire = (t, type, x, y) => t.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y,
                   button: 0, buttons: type === 'mouseup' ? 0 : 1, bubbles: true, cancelable: true, view: window }));
                 for (const poly of polys) {
                   const [x0, y0] = poly[0];
                   fire(box, 'mousedown', x0, y0);
                   for (const [x, y] of [...poly.slice(1), [x0 + 3, y0 + 3]]) fire(window, 'mousemove', x, y);
                   fire(window, 'mouseup', x0 + 3, y0 + 3);
                 }
                 return polys.length; }""",
            [index, [[list(p) for p in poly] for poly in polygons], view],
        )

    def selection_in_browser(self, index: int = 0, view: str = "proj"):
        return self.page.evaluate(
            """([i, v]) => Array.from((v === 'axis' ? globalThis.__modalchorus.filter(x => x.root.isConnected)[i].axis
                 : globalThis.__modalchorus.filter(x => x.root.isConnected)[i].proj).selection)""",
            [index, view],
        )

    def close(self):
        if self.kernel:
            try:
                self.kernel.run("import gc; gc.collect()", timeout=10)
            except Exception:
                pass
            self.kernel.close()
        try:
            for s in self.lab.api("GET", "/api/sessions") or []:
                if s.get("path", "").endswith(self.name):
                    self.lab.api("DELETE", f"/api/sessions/{s['id']}")
        except OSError:
            pass
        self.page.close()
        self.page.context.close()


def bbox_polygon(points, margin: float = 14):
    """A rough octagon (not a rectangle, so a lasso has real corners to follow) around page points."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin
    return [
        (x0, (y0 + y1) / 2),
        (x0 + 4, y0),
        ((x0 + x1) / 2, y0 - 4),
        (x1, y0),
        (x1 + 4, (y0 + y1) / 2),
        (x1, y1),
        ((x0 + x1) / 2, y1 + 4),
        (x0, y1),
    ]
