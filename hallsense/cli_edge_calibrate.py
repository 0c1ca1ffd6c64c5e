"""``hallsense edge calibrate-footfall``: devices per person from the door counter's counts."""

from __future__ import annotations

from pathlib import Path

import click

from edge.footfall_calibration import DOOR_METRICS, ESTIMATE_METRIC, MIN_PEOPLE, calibrate
from hallsense.cli_edge import _status_settings, parse_range, user_errors
from hallsense.cli_options import date_range_options, env_option
from hallsense.wiring import open_edge_store
from sensors.ble_settings import SETTINGS as BLE


@click.command("calibrate-footfall")
@env_option
@date_range_options
@click.option(
    "--min-people",
    type=click.IntRange(min=1),
    default=MIN_PEOPLE,
    show_default=True,
    help="Use only intervals with at least this many people in, by the door's count.",
)
@user_errors
def calibrate_footfall(env_file: Path | None, start: str, end: str, min_people: int) -> None:
    """Work out the hall's devices per person for the BLE footfall estimate.

    Compares the BLE driver's people estimates with the people a door beam pair says
    were in (entries minus exits since the start of each local day) and prints the
    median ratio to set as HALLSENSE_BLE_FOOTFALL_DEVICES_PER_PERSON. Run both drivers
    for a week or two first (docs/ble.md). Exit status 1 if too few busy intervals.

    \b
    Example:
        hallsense edge calibrate-footfall --env edge.env --from 2026-11-02 --to 2026-11-15
    """
    settings = _status_settings(env_file)
    first, last = parse_range(start, end, settings.timezone)
    with open_edge_store(settings, readonly=True) as store:
        result = calibrate(
            store.readings_between(first, last, metrics=(*DOOR_METRICS, ESTIMATE_METRIC)),
            current_devices_per_person=settings.for_driver(BLE).footfall_devices_per_person,
            timezone=settings.timezone,
            min_people=min_people,
        )
    if not result.door_readings:
        raise click.ClickException(
            "no entries or exits in that period: calibration needs a door beam pair "
            "(HALLSENSE_GPIO_BEAM_PAIR_PINS) running beside the BLE driver"
        )
    if not result.estimates:
        raise click.ClickException(
            "no people estimates in that period: switch on HALLSENSE_BLE_FOOTFALL first"
        )
    if result.devices_per_person is None:
        raise click.ClickException(
            f"only {result.intervals} intervals had {min_people} or more people in by the "
            "door's count; calibrate over a longer or busier period, or lower --min-people"
        )
    click.echo(
        f"{result.intervals} intervals with {min_people} or more people in: "
        f"{result.devices_per_person:g} devices per person "
        f"(the middle half {result.low:g} to {result.high:g})."
    )
    click.echo(f"Set HALLSENSE_BLE_FOOTFALL_DEVICES_PER_PERSON={result.devices_per_person:g}")
