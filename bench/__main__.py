"""Run every benchmark and print their tables: ``python -m bench [store|agent]``."""

import sys

from bench import agent_resources, store_append


def main(argv: list[str]) -> int:
    chosen = set(argv) or {"store", "agent"}
    unknown = chosen - {"store", "agent"}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose store, agent")
        return 2
    if "store" in chosen:
        store_append.main()
    if "agent" in chosen:
        agent_resources.main()
    return 0


sys.exit(main(sys.argv[1:]))
