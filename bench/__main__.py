"""Run the benchmarks: every module `bench/<name>.py` that defines `main()`, in name order.

    python -m bench                      # all of them
    python -m bench tracing_overhead     # only those named

Each `main()` is called with no arguments (and `sys.argv` reset to its own name), so a module
can parse its own options when run alone as `python -m bench.<name> ...`. A module whose
`main()` raises or returns a non-zero code makes the run fail after the others have run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def discover() -> list[str]:
    here = str(Path(__file__).resolve().parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    wanted = list(sys.argv[1:] if argv is None else argv)
    names = discover()
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}")
        return 2
    failed: list[str] = []
    for name in wanted or names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if not callable(run):
            continue
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        saved_argv = sys.argv
        sys.argv = [f"bench.{name}"]
        try:
            code = run()
        except Exception:  # noqa: BLE001 - reported, and the other benchmarks still run
            traceback.print_exc()
            code = 1
        finally:
            sys.argv = saved_argv
        print(f"== bench.{name}: {time.perf_counter() - started:.1f} s", flush=True)
        if code not in (None, 0):
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
