"""Run every benchmark and print their tables: ``python -m bench [store|agent]``."""

import sys

from bench import agent_resources, store_append, wire


def main(argv: list[str]) -> int:
    chosen = set(argv) or {"store", "agent", "wire"}
    unknown = chosen - {"store", "agent", "wire"}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose store, agent, wire")
        return 2
    if "store" in chosen:
        store_append.main()
    if "agent" in chosen:
        agent_resources.main()
    if "wire" in chosen:
        wire.main()
    return 0


sys.exit(main(sys.argv[1:]))
