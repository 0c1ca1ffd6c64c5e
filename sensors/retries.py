"""How a wired driver treats a bad answer: count it, ask again, and in the end say why.

A part on a bus can answer wrongly (a CRC mismatch, a short read, all 0xFF) or not at
all (the bus raises OSError). A wrong answer is counted and the measurement tried again,
up to a few times; no answer at all is reported at once. Either way the driver raises
a transient DriverError, and the agent retries it with back-off while the others run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sensors.driver import DriverError

ATTEMPTS = 3
PAUSE_S = 0.01

T = TypeVar("T")


class BadAnswer(Exception):
    """An answer that cannot be trusted: counted and asked for again."""


def with_retries(
    measure: Callable[[], T],
    *,
    what: str,
    count_bad: Callable[[], None],
    sleep: Callable[[float], None],
    attempts: int = ATTEMPTS,
) -> T:
    """``measure()``, tried again after each :class:`BadAnswer`.

    Args:
        measure: one attempt; raises BadAnswer for an untrustworthy answer.
        what: the driver and part, as messages name them ("bme280 driver: the Bosch
            BME280 at 0x76 on I2C bus 1").
        count_bad: called for each bad answer (the driver's failure counter).
        sleep: the pause between attempts.
        attempts: how many attempts in all.

    Raises:
        DriverError: transient; the part did not answer (OSError), or every attempt
            gave a bad answer (the message lists why).
    """
    problems: list[str] = []
    for attempt in range(attempts):
        try:
            return measure()
        except BadAnswer as bad:
            count_bad()
            problems.append(str(bad))
        except OSError as error:
            raise DriverError(f"{what} does not answer ({error})") from error
        if attempt + 1 < attempts:
            sleep(PAUSE_S)
    raise DriverError(f"{what}: {attempts} bad answers: {'; '.join(problems)}")
