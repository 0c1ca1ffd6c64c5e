"""The central hub: ingestion, hub store and hub web (issues 3 and 6)."""
