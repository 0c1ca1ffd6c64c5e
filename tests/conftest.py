"""Fixtures shared by every test package."""

import os

# No test may ever fall back to real GPIO hardware (there is none here).
os.environ["GPIOZERO_PIN_FACTORY"] = "mock"
