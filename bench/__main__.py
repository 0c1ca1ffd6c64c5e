"""Run every benchmark and print their tables: ``python -m bench [store|agent|wire|web]``."""

import sys

from bench import agent_resources, store_append, web, wire


def main(argv: list[str]) -> int:
    chosen = set(argv) or {"store", "agent", "wire", "web"}
    unknown = chosen - {"store", "agent", "wire", "web"}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose store, agent, wire, web")
        return 2
    if "store" in chosen:
        store_append.main()
    if "agent" in chosen:
        agent_resources.main()
    if "wire" in chosen:
        wire.main()
    if "web" in chosen:
        web.main()
    return 0


sys.exit(main(sys.argv[1:]))
