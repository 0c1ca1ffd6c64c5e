"""Run every benchmark and print their tables: ``python -m bench [NAME ...]`` (all by default).

``python -m bench fleet [OPTIONS]`` runs the fleet bench alone (about 4 minutes a size and
store; see :mod:`bench.fleet`); it is not among "all".
"""

import sys

from bench import (
    agent_resources,
    drain,
    fleet,
    hostile,
    hub_data,
    partitions,
    questions,
    store_append,
    update,
    web,
    wire,
)


def main(argv: list[str]) -> int:
    if argv[:1] == ["fleet"]:  # its own options: sizes, stores, steady-state length
        fleet.main(argv[1:])
        return 0
    every = {
        "store",
        "agent",
        "wire",
        "web",
        "hub",
        "hostile",
        "update",
        "drain",
        "questions",
        "partitions",
    }
    chosen = set(argv) or every
    unknown = chosen - every
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
            "choose store, agent, wire, web, hub, hostile, update, drain, questions, partitions "
            "(or fleet, alone)"
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
    if "partitions" in chosen:
        partitions.main()
    return 0


sys.exit(main(sys.argv[1:]))
