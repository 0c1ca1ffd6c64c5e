"""Building a node's drivers from their settings declarations."""

from pathlib import Path

from edge.drivers import build_drivers, driver_options
from edge.settings import EdgeSettings
from hallsense.settings import load_settings


def settings_from(tmp_path, **keys):
    environ = {
        "HALLSENSE_DATA_DIR": str(tmp_path),
        **{f"HALLSENSE_{k}": v for k, v in keys.items()},
    }
    return load_settings(EdgeSettings, None, environ=environ)


def test_each_driver_gets_its_own_settings_under_its_constructors_names(tmp_path):
    settings = settings_from(
        tmp_path,
        I2C_BUS="3",
        BME280_ADDRESS="0x77",
        SCD4X_PRESSURE_HPA="1013.25",
        GPIO_PIN_FACTORY="mock",
        SIMULATED_SEED="7",
        TIMEZONE="Europe/Dublin",
    )
    assert driver_options(settings, "bme280")["bus_number"] == 3
    assert driver_options(settings, "bme280")["address"] == 0x77
    assert driver_options(settings, "scd4x")["bus_number"] == 3
    assert driver_options(settings, "scd4x")["ambient_pressure_hpa"] == 1013.25
    assert driver_options(settings, "gpio")["pin_factory_name"] == "mock"
    assert driver_options(settings, "simulated") == {
        "interval_s": 10.0,
        "seed": 7,
        "timezone": "Europe/Dublin",
    }
    assert driver_options(settings, "system") == {"interval_s": 60.0, "disk_path": tmp_path}


def test_settings_built_in_code_give_each_driver_its_defaults(tmp_path):
    options = driver_options(EdgeSettings(data_dir=tmp_path), "counter")
    assert options == {"interval_s": 1.0, "tally_path": None}


def test_the_drivers_the_settings_name_are_built(tmp_path):
    settings = settings_from(
        tmp_path, DRIVERS="counter,faulty", COUNTER_TALLY_PATH=str(tmp_path / "t")
    )
    drivers, failures = build_drivers(settings)
    assert failures == []
    assert [d.name for d in drivers] == ["counter", "faulty"]
    assert Path(drivers[0].tally_path) == tmp_path / "t"
    for driver in drivers:
        driver.close()
