"""One store, the agent's threads: health reports from background threads (enrolment,
password rotation) while the agent commits readings, and the store closed as they write.

Before the store's write lock, a report landing inside the agent's transaction failed with
"cannot start a transaction within a transaction", and closing the store while enrolment
wrote its health crashed a test worker.
"""

import threading
from datetime import UTC, datetime, timedelta

from edge.store_errors import StoreError
from tests.edge.conftest import T0, readings, synced


def test_health_reports_from_other_threads_never_meet_the_agents_transactions(store):
    errors: list[BaseException] = []
    reports = 300

    def report() -> None:
        try:
            for i in range(reports):
                store.record_health("enrolment", "failing", f"try {i}", i, datetime.now(UTC))
        except BaseException as error:
            errors.append(error)

    reporter = threading.Thread(target=report)
    reporter.start()
    batches = 150
    for i in range(batches):
        store.append(readings(4, start=T0 + timedelta(seconds=10 * i)), synced())
    reporter.join()

    assert errors == []
    assert store.stats().readings_stored == 4 * batches
    (health,) = [h for h in store.health() if h.driver == "enrolment"]
    assert health.last_error == f"try {reports - 1}"


def test_closing_the_store_while_another_thread_writes_is_a_clear_error_there(open_store):
    store = open_store()
    outcome: list[str] = []
    started = threading.Event()

    def write_until_closed() -> None:
        started.set()
        try:
            while True:
                store.record_health("rotation", "ok", "", 0, datetime.now(UTC))
        except StoreError as error:
            outcome.append(str(error))

    writer = threading.Thread(target=write_until_closed)
    writer.start()
    started.wait()
    store.close()
    writer.join(timeout=10)

    assert not writer.is_alive()
    assert outcome
    assert "closed" in outcome[0]
