"""The node: settings, the durable SQLite store and the agent that schedules drivers."""
