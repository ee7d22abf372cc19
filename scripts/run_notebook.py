"""Execute notebooks headless (nbclient) and fail loudly: `python scripts/run_notebook.py NB [NB ...]`.

Used by `make run` when CI=true and by the notebook tests. Outputs are not written back (notebooks stay
stripped in git); pass --out DIR to keep executed copies.
"""

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(path: Path, out_dir: Path | None = None, timeout: int = 1200) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / path.name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="folder for executed copies")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = ap.parse_args(argv)
    failed = 0
    for nb in args.notebooks:
        t0 = time.perf_counter()
        try:
            run(nb, args.out, args.timeout)
            print(f"ok      {nb} ({time.perf_counter() - t0:.1f} s)")
        except CellExecutionError as exc:
            failed += 1
            print(f"FAILED  {nb}\n{exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
