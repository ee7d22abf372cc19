"""`python -m benchmarks VERB ...`: run one benchmark and write its JSON.

Each verb lives in its own module of this package (``encode``, ``projection``, ``widget``,
``alignment``, ``cmcr``, ``reliability``, ...; ``scale-fit`` is ``scale_fit.py``) exposing ``main(argv) -> int``.
"""

import importlib
import sys

VERBS = (
    "encode",
    "projection",
    "widget",
    "alignment",
    "cmcr",
    "reliability",
    "scale",
    "cases",
    "scale-fit",
    "scale-rounds",
    "fixes",
    "probe",
)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in VERBS:
        print(f"usage: python -m benchmarks {{{','.join(VERBS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{argv[0].replace('-', '_')}")  # scale-fit: scale_fit.py
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
