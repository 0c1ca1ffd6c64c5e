"""The ingestion service's own parts: acknowledging to the broker in arrival order."""

from hub.service import InOrderAcks


def test_acks_go_to_the_broker_in_arrival_order_whatever_order_writers_finish():
    sent = []
    acks = InOrderAcks(sent.append)
    tickets = [acks.ticket() for _ in range(5)]
    acks.finish(tickets[2], "c")
    acks.finish(tickets[1], "b")
    assert sent == []  # the first message is still being handled
    acks.finish(tickets[0], "a")
    assert sent == ["a", "b", "c"]
    acks.finish(tickets[4], "e")
    acks.finish(tickets[3], None)  # from a connection that is gone: never acknowledged
    assert sent == ["a", "b", "c", "e"]
