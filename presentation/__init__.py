"""What people read, shared by both towers: metric vocabulary, words, charts, exports.

A pure bottom package: it imports nothing of the project, so the node (sensors, edge,
web_local) and the hub (hub_sync, provisioning, hub) both render with it directly.
"""
