"""``default_ws_limit_ok``, measured: the widget's browser -> kernel messages through a real Jupyter server
running at its default websocket message limit (tornado's 10 MiB; the browser tests' JupyterLab, started by
``benchmarks/browser.Lab``, which does not raise it).

Over one websocket to a real kernel, as a browser would talk to it (Jupyter's websocket protocol, binary frames
for messages with buffers), to a ``ScatterWidget`` at its point budget (``DEFAULT_MAX_POINTS`` = 2,000,000):

1. a lasso around every point: the ``update`` ipywidgets sends, 8,000,000 bytes of uint32 indices;
2. two named sets of every point (16,000,000 bytes, over the limit) as the sets panel sends them: a
   ``sets_chunk`` transfer (the format of ``js/src/set_transfer.js``, built here by ``pack_sets``);
3. a check cell: the kernel holds exactly that selection and those sets;
4. the control: the same sets as one plain ``named_sets`` update, which the server must refuse (it closes the
   websocket): the limit the figures were measured under is in force.

``default_ws_limit_ok`` is true only if 1-3 arrive exactly and 4 is refused.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

WS_DEFAULT_LIMIT = 10 * 2**20  # tornado's websocket_max_message_size
CHUNK_BYTES = 4 * 2**20  # js/src/set_transfer.js SET_CHUNK_BYTES (= widget/set_transfer.CHUNK_BYTES)

SETUP = """
import json, numpy as np
from modalchorus_widget.widget.scatter import DEFAULT_MAX_POINTS, ScatterWidget
n = DEFAULT_MAX_POINTS
w = ScatterWidget(np.random.default_rng(0).uniform(-1, 1, (n, 2)).astype(np.float32))
print(json.dumps({"model_id": w.model_id, "n": n, "n_shown": w.n_shown}))
"""
CHECK = """
_all = np.arange(n, dtype=np.uint32)
print(json.dumps({"selected_exact": bool(np.array_equal(w.selected, _all)),
                  "sets_exact": sorted(w.sets) == ["all A", "all B"]
                                and all(np.array_equal(w.sets[k], _all) for k in w.sets),
                  "sets": {k: int(len(v)) for k, v in w.sets.items()}}))
"""


def pack_sets(sets: dict, tid: str, chunk: int = CHUNK_BYTES) -> list[tuple[dict, bytes]]:
    """The sets panel's messages for ``sets`` (name -> uint32 indices): ``(content, buffer)`` per chunk."""
    flat = b"".join(np.asarray(v, "<u4").tobytes() for v in sets.values())
    pieces = [flat[i : i + chunk] for i in range(0, len(flat), chunk)] or [b""]
    out = []
    for seq, piece in enumerate(pieces):
        content = {"type": "sets_chunk", "id": tid, "seq": seq, "total": len(pieces)}
        if seq == 0:
            content.update(nbytes=len(flat), sets=[[k, int(len(v))] for k, v in sets.items()])
        out.append((content, piece))
    return out


def _msg(session: str, msg_type: str, content: dict, buffers=(), channel: str = "shell") -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "bench",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": list(buffers),
        "channel": channel,
    }


class _Socket:
    """One kernel websocket, spoken as a browser does (text frames, binary frames for messages with buffers)."""

    def __init__(self, ws, session: str):
        self.ws, self.session, self.sent_bytes = ws, session, []

    async def send(self, msg_type: str, content: dict, buffers=()):
        from jupyter_server.services.kernels.connection.base import serialize_binary_message

        msg = _msg(self.session, msg_type, content, buffers)
        if buffers:
            frame = serialize_binary_message(msg)
        else:
            msg.pop("buffers")
            frame = json.dumps(msg).encode()
        self.sent_bytes.append(len(frame))
        if buffers:
            await self.ws.write_message(frame, binary=True)
        else:
            await self.ws.write_message(frame.decode())
        return msg["header"]["msg_id"]

    async def execute(self, code: str, timeout: float) -> str:
        """Run ``code``; return what it printed (raises on an error or a closed socket)."""
        from jupyter_server.services.kernels.connection.base import deserialize_binary_message

        msg_id = await self.send("execute_request", {"code": code, "silent": False, "store_history": False})
        out, deadline = [], time.time() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), max(1.0, deadline - time.time()))
            if raw is None:
                raise ConnectionError("the server closed the websocket")
            m = deserialize_binary_message(raw) if isinstance(raw, bytes) else json.loads(raw)
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            t, c = m["msg_type"], m["content"]
            if t == "stream":
                out.append(c["text"])
            elif t == "error":
                raise RuntimeError(f"{c.get('ename')}: {c.get('evalue')}")
            elif t == "status" and c.get("execution_state") == "idle":
                return "".join(out)

    async def closed_within(self, seconds: float) -> bool:
        """True when the server closes the socket within ``seconds`` (messages read meanwhile are dropped)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                raw = await asyncio.wait_for(self.ws.read_message(), max(0.1, deadline - time.time()))
            except asyncio.TimeoutError:
                return False
            if raw is None:
                return True
        return False


async def _measure(lab, timeout: float) -> dict:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import WebSocketClosedError, websocket_connect

    kernel = lab.api("POST", "/api/kernels", {"name": "python3"})
    session = uuid.uuid4().hex
    url = f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel['id']}/channels?session_id={session}"
    req = HTTPRequest(url, headers={"Authorization": f"token {lab.token}"})
    # the client may read big kernel -> browser messages (the widget's 16 MB state); the limit under test is
    # the server's, on what it reads from the browser
    ws = await websocket_connect(req, max_message_size=2**30)
    sock = _Socket(ws, session)
    out: dict = {"ws_limit_bytes": WS_DEFAULT_LIMIT, "step": "setup"}
    try:
        info = json.loads((await sock.execute(SETUP, timeout)).strip().splitlines()[-1])
        n, comm = info["n"], info["model_id"]
        out["n_points"] = n
        everything = np.arange(n, dtype=np.uint32)
        out["step"] = "lasso"
        # 1. the lasso: ipywidgets' update with the indices in a buffer
        update = {"method": "update", "state": {}, "buffer_paths": [["selected"]]}
        await sock.send("comm_msg", {"comm_id": comm, "data": update}, [everything.tobytes()])
        out["lasso_message_bytes"] = sock.sent_bytes[-1]
        out["step"] = "sets"
        # 2. two sets of every point, chunked as the sets panel sends them
        chunk_sizes = []
        for content, buf in pack_sets({"all A": everything, "all B": everything}, "bench"):
            await sock.send("comm_msg", {"comm_id": comm, "data": {"method": "custom", "content": content}}, [buf])
            chunk_sizes.append(sock.sent_bytes[-1])
        out.update(sets_total_bytes=2 * everything.nbytes, sets_chunks=len(chunk_sizes))
        out["largest_chunk_message_bytes"] = max(chunk_sizes)
        out["step"] = "check"
        # 3. what the kernel holds
        out.update(json.loads((await sock.execute(CHECK, timeout)).strip().splitlines()[-1]))
        out["step"] = "control"
        # 4. control: the same sets as one plain update, refused by the server
        plain = {"method": "update", "state": {}, "buffer_paths": [["named_sets", "all A"], ["named_sets", "all B"]]}
        try:
            await sock.send("comm_msg", {"comm_id": comm, "data": plain}, [everything.tobytes()] * 2)
            out["plain_sets_refused_by_server"] = await sock.closed_within(30)
        except WebSocketClosedError:  # the server closed the socket while the frame was still being written
            out["plain_sets_refused_by_server"] = True
        out["plain_sets_message_bytes"] = sock.sent_bytes[-1]
        out["step"] = "done"
    except Exception as exc:  # noqa: BLE001 - a measurement that fails is not ok, and says where
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        ws.close()
        lab.api("DELETE", f"/api/kernels/{kernel['id']}")
    out["ok"] = bool(
        out.get("selected_exact")
        and out.get("sets_exact")
        and out.get("plain_sets_refused_by_server")
        and out["lasso_message_bytes"] < WS_DEFAULT_LIMIT
        and out["largest_chunk_message_bytes"] < WS_DEFAULT_LIMIT < out["sets_total_bytes"]
    )
    return out


def _run_in_own_loop(coro):
    """``asyncio.run(coro)`` in a thread of its own: the caller may already run an event loop (Playwright's)."""
    box = {}

    def work():
        try:
            box["out"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["exc"] = exc

    t = threading.Thread(target=work, name="modalchorus-ws-bench")
    t.start()
    t.join()
    if "exc" in box:
        raise box["exc"]
    return box["out"]


def measure_default_ws_limit(timeout: float = 300) -> dict:
    """Start the browser tests' JupyterLab (default websocket limit) and measure; ``{"ok": ..., ...}``."""
    from benchmarks.browser import Lab

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mc-ws-") as tmp:
        lab = Lab(Path(tmp)).start()
        try:
            out = _run_in_own_loop(_measure(lab, timeout))
        finally:
            lab.stop()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":
    print(json.dumps(measure_default_ws_limit(), indent=1))
