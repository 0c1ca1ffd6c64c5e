"""Run every benchmark and print their tables: ``python -m bench [NAME ...]`` (all by default)."""

import sys

from bench import (
    agent_resources,
    drain,
    hostile,
    hub_data,
    questions,
    store_append,
    update,
    web,
    wire,
)


def main(argv: list[str]) -> int:
    every = {"store", "agent", "wire", "web", "hub", "hostile", "update", "drain", "questions"}
    chosen = set(argv) or every
    unknown = chosen - every
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
            "choose store, agent, wire, web, hub, hostile, update, drain, questions"
        )
        return 2
    if "store" in chosen:
        store_append.main()
    if "agent" in chosen:
        agent_resources.main()
    if "wire" in chosen:
        wire.main()
    if "web" in chosen:
        web.main()
    if "hub" in chosen:
        hub_data.main()
    if "hostile" in chosen:
        hostile.main()
    if "update" in chosen:
        update.main()
    if "drain" in chosen:
        drain.main()
    if "questions" in chosen:
        questions.main()
    return 0


sys.exit(main(sys.argv[1:]))
