"""The one wrapper around paho-mqtt both ends use: MQTT 5, reason codes turned into exceptions.

It also carries out the route to the broker that ``hub_sync/transports.py`` decides: MQTT
over TLS or over WebSockets/TLS, the ``auto`` fallback between them, an HTTP proxy
(CONNECT, through PySocks as paho does), and logging the link once per change of state.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import paho.mqtt.client as paho
import socks
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from hub_sync.brokers import MOVES_AFTER, BrokerRotation
from hub_sync.mqtt_types import (
    BrokerSettings,
    ConnectRefused,
    Delivery,
    Message,
    MessageHandler,
    MqttError,
    MqttTimeout,
    NotConnected,
    PublishRefused,
)
from hub_sync.transports import (
    FAILS_BEFORE_SWITCH,
    Fallback,
    LinkLog,
    Transport,
    describe_failure,
    describe_route,
)

__all__ = [  # the wire's types, re-exported: callers import them from here
    "BrokerSettings", "ConnectRefused", "Delivery", "Message", "MessageHandler", "MqttClient",
    "MqttError", "MqttTimeout", "NotConnected", "PublishRefused",
]  # fmt: skip

log = logging.getLogger(__name__)
PAHO_LOG = logging.getLogger("hub_sync.mqtt.paho")

NO_MATCHING_SUBSCRIBERS = 0x10
"""A PUBACK reason code that is a success: the broker has the message, nobody listens."""


class MqttClient:
    """An MQTT 5 client for hallsense, with paho's network loop in a background thread.

    ``session_expiry_s`` keeps the broker session (subscriptions and queued QoS 1
    messages) for that long after a disconnect; ``manual_ack`` makes received QoS 1
    messages unacknowledged to the broker until :meth:`ack` — after the hub's commit.
    ``on_message`` runs in paho's thread. paho reconnects by itself with back-off
    between ``reconnect_min_s`` and ``reconnect_max_s``; ``on_connect`` runs after every
    successful (re)connection, e.g. to subscribe again or to publish a birth message;
    ``on_refused`` gets the CONNACK reason code of every refused one (paho keeps
    retrying), e.g. to fall back to an older password.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        *,
        client_id: str,
        on_message: MessageHandler | None = None,
        on_connect: Callable[[MqttClient], None] | None = None,
        on_refused: Callable[[int], None] | None = None,
        session_expiry_s: int | None = None,
        manual_ack: bool = False,
        will: tuple[str, bytes, int, bool] | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 4.0,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self._on_message = on_message
        self._on_connect_hook = on_connect
        self._on_refused_hook = on_refused
        self._closing = False
        self._lock = threading.Lock()
        self._pending: dict[int, Delivery] = {}
        self._early: dict[int, int] = {}
        self._connected = threading.Event()
        self._connack: int | None = None
        self._connack_event = threading.Event()
        self._link = LinkLog(client_id, log)
        self._fallback = Fallback(broker.route, log=self._link.switched)
        self._brokers = BrokerRotation(
            ((broker.host, broker.port), *broker.others),
            log=lambda words: log.info("%s: %s", client_id, words),
        )
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=manual_ack,
            transport=_paho_transport(self._fallback.current),
        )
        self._client.ws_set_options(path=broker.route.ws_path)
        proxy = broker.route.proxy
        if proxy is not None:
            self._client.proxy_set(
                proxy_type=socks.HTTP,
                proxy_addr=proxy.host,
                proxy_port=proxy.port,
                proxy_rdns=True,
                proxy_username=proxy.username or None,
                proxy_password=proxy.password or None,
            )
        self._client.on_log = self._paho_log
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.username_pw_set(broker.username, broker.password or None)
        if broker.ca_file is not None:
            self._client.tls_set(ca_certs=str(broker.ca_file))
        if will is not None:
            topic, payload, qos, retain = will
            self._client.will_set(topic, payload, qos=qos, retain=retain)
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self._jitter_reconnects()
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_publish = self._handle_publish
        self._client.on_message = self._handle_message
        self._client.on_subscribe = self._handle_suback
        self._asked: dict[int, Callable[[list[ReasonCode]], None]] = {}
        self._asked_lock = threading.Lock()
        self._started = False

    def _jitter_reconnects(self) -> None:
        """Give this client its own random reconnect delays.

        paho doubles the delay from min to max on each failed attempt, the same for every
        client: after a county-wide power cut or a broker restart, hundreds of nodes would
        knock at the same instants. Randomising both ends per client (again after every
        disconnect) spreads them, while the first retry still comes within a second or so.
        """
        low = random.uniform(self.reconnect_min_s, 2 * self.reconnect_min_s)  # noqa: S311
        high = random.uniform(self.reconnect_max_s / 2, self.reconnect_max_s)  # noqa: S311
        # paho types these as int but only ever adds and compares them.
        self._client.reconnect_delay_set(low, max(low, high))  # type: ignore[arg-type]

    # --- paho callbacks (paho's thread) ---

    def _handle_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack = reason.value
        self._connack_event.set()
        if reason.is_failure:
            self._link.refused(str(reason))
            if self._on_refused_hook is not None:
                try:
                    self._on_refused_hook(reason.value)
                except Exception:
                    log.exception("on_refused hook of %s failed", self.client_id)
            return
        self._fallback.connected()
        self._brokers.connected()
        self._link.connected(self._where())
        self._connected.set()
        if self._on_connect_hook is not None:
            try:
                self._on_connect_hook(self)
            except Exception:
                log.exception("on_connect hook of %s failed", self.client_id)

    def _handle_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set() and not self._closing:
            self._link.lost(str(reason))
            if self._fallback.lost() is not None:
                self._follow()
        self._connected.clear()
        self._jitter_reconnects()

    def _handle_connect_fail(self, client: paho.Client, userdata: object) -> None:
        # paho calls this inside its ``except OSError``: the error is the one in hand.
        error = sys.exception()
        self._link.failed(self._where(), self._reason(error))
        self._attempt_failed(error)

    # --- the route (paho's thread, or before the loop starts) ---

    def _where(self) -> str:
        return describe_route(
            *self._brokers.current,
            self.broker.ca_file is not None,
            self.broker.route,
            self._fallback.current,
        )

    def _reason(self, error: BaseException | None) -> str:
        return describe_failure(error, self.broker.route.proxy)

    def _attempt_failed(self, error: BaseException | None) -> None:
        """An attempt failed: the next may go over the other transport, or to another broker."""
        switched = self._fallback.failed(silent=isinstance(error, TimeoutError))
        if self._brokers.failed() is not None or switched is not None:
            self._follow()

    def _follow(self) -> None:
        """Make the next attempt over the current transport, to the current broker."""
        # paho's transport, host and port setters refuse while its loop is between
        # attempts, though no socket is open then; its reconnect reads these fields.
        self._client._transport = _paho_transport(self._fallback.current)
        self._client._host = self._brokers.current[0]
        self._client._port = self._port()

    def _handle_publish(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            delivery = self._pending.pop(mid, None)
            if delivery is None:
                # The PUBACK beat publish() to registering its mid.
                self._early[mid] = reason.value
                return
        delivery._settle(reason.value, str(reason))

    def _handle_message(
        self, client: paho.Client, userdata: object, message: paho.MQTTMessage
    ) -> None:
        if self._on_message is None:
            return
        topic = message.topic
        try:
            # paho's payload is already bytes, and bytes() of a bytes object is that
            # same object, not a copy: the hot path pays nothing for the type.
            payload = bytes(message.payload)
            self._on_message(Message(topic, payload, message.qos, message.retain, message.mid))
        except Exception:
            # A handler must never kill paho's thread; the handler logs its own reasons.
            log.exception("handling a message on %s failed", topic)

    def _paho_log(self, client: paho.Client, userdata: object, level: int, text: str) -> None:
        # paho's network thread can take one more turn after a clean disconnect and calls
        # that an error; an operator stopping a worker should not see "ERROR" for it.
        # Socket failures are the link's state, which LinkLog reports once per change.
        if self._closing or "on socket" in text or "is not connected" in text:
            PAHO_LOG.debug(text)
        elif level == paho.MQTT_LOG_ERR:
            PAHO_LOG.error(text)
        elif level == paho.MQTT_LOG_WARNING:
            PAHO_LOG.warning(text)
        else:
            PAHO_LOG.debug(text)

    # --- the interface ---

    @property
    def connected(self) -> bool:
        """Whether the client is connected now."""
        return self._connected.is_set()

    def connect(self, timeout: float = 10.0) -> None:
        """Connect and wait for the broker's answer; later drops reconnect by themselves.

        Raises:
            ConnectRefused: bad credentials, not authorised, or another refusal.
            NotConnected: the broker cannot be reached.
            MqttTimeout: no CONNACK within ``timeout``.
        """
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        clean_start = True
        if self.session_expiry_s is not None:
            properties.SessionExpiryInterval = self.session_expiry_s
            clean_start = False
        self._connack_event.clear()
        attempts = 2 * FAILS_BEFORE_SWITCH if self._fallback.automatic else 1
        if self.broker.others:
            attempts = MOVES_AFTER * len(self._brokers.addresses)
        for attempt in range(attempts):
            try:
                self._client.connect(
                    self._brokers.current[0],
                    self._port(),
                    keepalive=self.broker.keepalive_s,
                    clean_start=clean_start,
                    properties=properties,
                )
                break
            except OSError as error:
                where = self._where()
                self._attempt_failed(error)
                if attempt + 1 == attempts:
                    raise NotConnected(f"cannot reach {where}: {self._reason(error)}") from error
        if not self._started:
            self._client.loop_start()
            self._started = True
        if not self._connack_event.wait(timeout):
            raise MqttTimeout(f"no answer from the broker within {timeout:g} s")
        reason = self._connack or 0
        if reason >= 0x80:
            self.close()
            raise ConnectRefused(
                f"the broker refused {self.broker.username!r}: "
                f"{ReasonCode(PacketTypes.CONNACK, identifier=reason)} (0x{reason:02x})",
                reason,
            )

    def set_password(self, password: str) -> None:
        """Use ``password`` from the next (re)connection on (a rotated credential)."""
        self._client.username_pw_set(self.broker.username, password or None)

    def start_background(self) -> None:
        """Connect in the background and keep reconnecting (for a broker that is down now)."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        clean_start = True
        if self.session_expiry_s is not None:
            properties.SessionExpiryInterval = self.session_expiry_s
            clean_start = False
        self._client.connect_async(
            self._brokers.current[0],
            self._port(),
            keepalive=self.broker.keepalive_s,
            clean_start=clean_start,
            properties=properties,
        )
        if not self._started:
            self._client.loop_start()
            self._started = True

    def _port(self) -> int:
        ws = self._fallback.current == "websockets"
        return self.broker.route.ws_port if ws else self._brokers.current[1]

    @property
    def transport(self) -> Transport:
        """The transport the client uses now (or tries next)."""
        return self._fallback.current

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected; False if not within ``timeout``."""
        return self._connected.wait(timeout)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> Delivery:
        """Send a message; the returned Delivery gets the broker's PUBACK.

        Raises:
            NotConnected: there is no connection (the message is not queued: callers keep
                their own durable outbox; paho's memory queue is no storage).
        """
        if not self._connected.is_set():
            raise NotConnected(f"not connected: cannot publish to {topic}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise NotConnected(f"publishing to {topic} failed: {paho.error_string(info.rc)}")
        delivery = Delivery(info.mid, topic)
        if qos == 0:
            delivery._settle(0)
            return delivery
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._pending[info.mid] = delivery
        if early is not None:
            delivery._settle(early, str(ReasonCode(PacketTypes.PUBACK, identifier=early)))
        return delivery

    def subscribe(self, topic_filter: str, *, qos: int = 1, timeout: float = 10.0) -> None:
        """Subscribe and wait for the SUBACK.

        Raises:
            PublishRefused: the broker refused the subscription (e.g. not authorised).
        """
        answered = threading.Event()
        codes: list[ReasonCode] = []

        def on_suback(reason_codes: list[ReasonCode]) -> None:
            codes.extend(reason_codes)
            answered.set()

        with self._asked_lock:
            result, mid = self._client.subscribe(topic_filter, qos=qos)
            if mid is not None:
                self._asked[mid] = on_suback
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise NotConnected(f"subscribing to {topic_filter} failed: {paho.error_string(result)}")
        if not answered.wait(timeout):
            raise MqttTimeout(f"no SUBACK for {topic_filter} within {timeout:g} s")
        for code in codes:
            if code.is_failure:
                raise PublishRefused(
                    f"the broker refused the subscription to {topic_filter}: {code}", code.value
                )

    def subscribe_nowait(
        self,
        topic_filter: str,
        *,
        qos: int = 1,
        retain_as_published: bool = False,
        on_granted: Callable[[], None] | None = None,
    ) -> None:
        """Ask to subscribe without waiting (safe inside ``on_connect``); refusals are logged.

        ``retain_as_published`` keeps a message's retain flag on live delivery too (MQTT 5),
        so a receiver can tell a message the broker will keep from a passing one.
        ``on_granted`` is called (in paho's thread) once the broker has granted it.
        """

        def on_suback(reason_codes: list[ReasonCode]) -> None:
            refused = [code for code in reason_codes if code.is_failure]
            for code in refused:
                log.error("the broker refused the subscription to %s: %s", topic_filter, code)
            if not refused and on_granted is not None:
                on_granted()

        options = SubscribeOptions(qos=qos, retainAsPublished=retain_as_published)
        with self._asked_lock:
            _, mid = self._client.subscribe(topic_filter, options=options)
            if mid is not None:  # None: not connected; asked again at the next connect
                self._asked[mid] = on_suback

    def _handle_suback(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        # Each SUBACK goes to the SUBSCRIBE of its own packet id: the hub asks for two in a
        # row (readings, statuses), and one callback for the client answered only the last.
        with self._asked_lock:
            answer = self._asked.pop(mid, None)
        if answer is not None:
            answer(reason_codes)

    def ack(self, message: Message) -> None:
        """Acknowledge a received QoS 1 message to the broker (with ``manual_ack``)."""
        self._client.ack(message.packet_id, message.qos)

    def close(self) -> None:
        """Disconnect and stop the network thread; safe to call more than once."""
        self._closing = True
        try:
            self._client.disconnect()
        except Exception as error:  # closing must not fail on a dead link
            log.debug("disconnect: %s", error)
        if self._started:
            self._client.loop_stop()
            self._started = False
            # loop_start made a socket pair to wake its thread; loop_stop leaves it open
            # when the thread ends between reconnect attempts. Close it, not the GC.
            for name in ("_sockpairR", "_sockpairW"):
                pair_end = getattr(self._client, name, None)
                if pair_end is not None:
                    pair_end.close()
                    setattr(self._client, name, None)
        self._connected.clear()

    def __enter__(self) -> MqttClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _paho_transport(transport: Transport) -> Literal["tcp", "websockets"]:
    return "websockets" if transport == "websockets" else "tcp"
