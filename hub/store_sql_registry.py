"""The device registry in SQL: registration, revocation, rotation requests and the audit trail.

Implements :class:`provisioning.registry.DeviceRegistry` and the hub's
:class:`hub.store.DeviceRecords`.
"""

from __future__ import annotations

from hub.store import AuditEntry, Device, RegisteredDevice, UnknownDevice
from hub.store_sql_base import SqlTables, now_us


class RegistryTables(SqlTables):
    """Who may send readings: registered, revoked and deleted devices, and who did what."""

    def add_device(
        self, device_id: str, name: str, *, location: str = "", actor: str = "hallsense"
    ) -> Device:
        """Register a device (or re-register it: its first registration time stays)."""
        with self._lock, self._transaction():
            existed = bool(self._query("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)))
            self._run(
                "INSERT INTO devices (device_id, name, location, added_at_us) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "name = excluded.name, location = excluded.location, revoked = 0, "
                "revoked_at_us = NULL",
                (device_id, name, location, now_us()),
            )
            self._audit(actor, "re-registered" if existed else "registered", device_id, name)
        device = self.device(device_id)
        if device is None:  # pragma: no cover - just inserted
            raise UnknownDevice(f"device {device_id} was not registered")
        return device

    def revoke_device(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Refuse the device's readings from now on; False if it is not registered."""
        with self._lock, self._transaction():
            changed = self._run(
                "UPDATE devices SET revoked = 1, revoked_at_us = ?, online = 0 WHERE device_id = ?",
                (now_us(), device_id),
            )
            if changed:
                self._audit(actor, "revoked", device_id, "")
        return bool(changed)

    def delete_device(self, device_id: str, *, with_data: bool, actor: str = "hallsense") -> int:
        """Revoke a device and, with ``with_data``, delete it and everything it sent.

        Returns how many readings were deleted (0 without ``with_data``).

        Raises:
            UnknownDevice: no such device.
        """
        with self._lock, self._transaction():
            if not self._query("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)):
                raise UnknownDevice(f"device {device_id!r} is not registered")
            deleted = 0
            if with_data:
                deleted = self._run("DELETE FROM readings WHERE device_id = ?", (device_id,))
                for table in (
                    "received",
                    "latest",
                    "rejections",
                    "hourly",
                    "node_configs",
                    "devices",
                ):
                    self._run(f"DELETE FROM {table} WHERE device_id = ?", (device_id,))  # noqa: S608
                self._audit(actor, "deleted with its data", device_id, f"{deleted} readings")
            else:
                self._run(
                    "UPDATE devices SET revoked = 1, online = 0, "
                    "revoked_at_us = COALESCE(revoked_at_us, ?) WHERE device_id = ?",
                    (now_us(), device_id),
                )
                self._audit(actor, "deleted, data kept", device_id, "")
        return deleted

    def audit_log(self, device_id: str | None = None) -> list[AuditEntry]:
        """Who did what to which device, and when, oldest first."""
        sql = "SELECT at_us, actor, action, device_id, detail FROM audit"
        params: tuple[str, ...] = ()
        if device_id is not None:
            sql += " WHERE device_id = ?"
            params = (device_id,)
        return [AuditEntry(*row) for row in self._query(sql + " ORDER BY at_us", params)]

    def registered(self) -> list[RegisteredDevice]:
        """Every registered device, with its site, location and state."""
        return [
            RegisteredDevice(d, n, loc, added, bool(rev), rev_at, seen, rotation)
            for d, n, loc, added, rev, rev_at, seen, rotation in self._query(
                "SELECT device_id, name, location, added_at_us, revoked, revoked_at_us, "
                "last_seen_us, rotation_requested_us FROM devices ORDER BY device_id"
            )
        ]

    def device(self, device_id: str) -> Device | None:
        """The registered device, or None."""
        rows = self._query(
            "SELECT device_id, name, added_at_us, revoked, rotation_requested_us "
            "FROM devices WHERE device_id = ?",
            (device_id,),
        )
        if not rows:
            return None
        found, name, added_at_us, revoked, rotation = rows[0]
        return Device(found, name, added_at_us, bool(revoked), rotation is not None)

    def request_rotation(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Ask the device for a new broker password (its acks say so until it confirms).

        False if the device is not registered or is revoked.
        """
        with self._lock, self._transaction():
            changed = self._run(
                "UPDATE devices SET rotation_requested_us = COALESCE(rotation_requested_us, ?) "
                "WHERE device_id = ? AND revoked = 0",
                (now_us(), device_id),
            )
            if changed:
                self._audit(actor, "rotation requested", device_id, "")
        return bool(changed)

    def finish_rotation(self, device_id: str, *, actor: str = "hallsense") -> None:
        """Record that the device's new broker password is in force."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE devices SET rotation_requested_us = NULL WHERE device_id = ?",
                (device_id,),
            )
            self._audit(actor, "credentials rotated", device_id, "")
