"""What both ends of the wire share: topics, payload codec and the MQTT wrapper (issue 3)."""
