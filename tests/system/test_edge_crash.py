"""`hallsense edge run` killed with SIGKILL at random moments loses nothing it committed."""

import random
import time

from sensors.counter import read_tally
from tests.support.edge_process import (
    EdgeProcess,
    integrity,
    stored_counter_values,
    wait_for,
    write_env,
)

COMMIT_INTERVAL_S = 0.5
# A reading waits at most one commit interval, plus the commit itself, before it is on
# disk; the grace covers the commit and scheduling on a busy 2-core CI machine.
DURABILITY_WINDOW_S = COMMIT_INTERVAL_S + 0.5
KILLS = 20


def test_sigkill_at_random_moments_loses_nothing_older_than_the_commit_interval(tmp_path):
    data_dir = tmp_path / "node"
    tally = tmp_path / "tally.txt"
    env = write_env(
        tmp_path / "edge.env",
        data_dir=data_dir,
        drivers="counter",
        counter_interval_s=0.01,
        counter_tally_path=tally,
        commit_interval_s=COMMIT_INTERVAL_S,
        log_level="WARNING",
    )
    rng = random.Random(20261124)
    kill_times_ns = []
    for _ in range(KILLS):
        edge = EdgeProcess(env, tmp_path / "edge.log").start()
        try:
            produced_before = len(read_tally(tally)) if tally.exists() else 0
            # Kill at a random moment once this run has produced something: some
            # kills land mid-commit, some between commits.
            wait_for(
                lambda before=produced_before: tally.exists() and len(read_tally(tally)) > before,
                timeout=20,
                message=f"edge run produced nothing:\n{edge.log()}",
            )
            time.sleep(rng.uniform(0.0, 1.2))
            assert edge.alive(), edge.log()
            kill_times_ns.append(time.time_ns())
            edge.kill()
        finally:
            edge.stop()

    db_path = data_dir / "hallsense.db"
    assert integrity(db_path) == "ok"
    stored = stored_counter_values(db_path)
    seqs = [seq for seq, _ in stored]
    values = [int(value) for _, value in stored]
    produced = read_tally(tally)
    produced_values = [value for value, _ in produced]

    assert len(set(values)) == len(values), "a counter value was stored twice"
    assert seqs == sorted(set(seqs)), "sequence numbers repeat"
    assert values == sorted(values), "sequence numbers were reused for later values"
    assert set(values) <= set(produced_values), "the store holds values never produced"
    assert produced_values == list(range(1, len(produced_values) + 1))

    # A value may be missing only if the process was killed within the durability window
    # after producing it (it was still waiting in memory for its commit).
    stored_set = set(values)
    window_ns = int(DURABILITY_WINDOW_S * 1e9)
    too_old = []
    for value, made_ns in produced:
        if value in stored_set:
            continue
        next_kill = min((k for k in kill_times_ns if k >= made_ns), default=None)
        if next_kill is None or next_kill - made_ns > window_ns:
            too_old.append(value)
    assert not too_old, (
        f"{len(too_old)} values produced more than {DURABILITY_WINDOW_S} s before the next "
        f"kill are missing, first {too_old[:5]}"
    )
    assert len(values) > KILLS * 20
