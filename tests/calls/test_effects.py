"""The executor's fault translation, one command at a time: what a port raises
(as the real ARI client and Redis raise it) -> the event the machine gets. The
ports are the model world's (tests.calls.ports); the property test drives the
same translation over whole calls."""

from __future__ import annotations

import pytest

from acd.calls import commands as c
from acd.calls import events as e
from acd.routing.model import QueueRequest
from tests.calls.driver import CALL_ID, CALLER, offer
from tests.calls.ports import Bug, PortWorld, run_now
from tests.calls.test_machine_property import FLOWS
from tests.calls.world import Chan

LEG = "acd-c0ffee0123456789-1"
REQ = QueueRequest(call_id=CALL_ID, queue="sales", enqueued_at_ms=0)
CREATE = c.CreateChannel(channel_id=LEG, endpoint="PJSIP/a100", app_args="",
                         originator=CALLER)
DIAL = c.Dial(LEG, None, 15)


def world(kind: str | None) -> PortWorld:
    w = PortWorld(FLOWS["plain"], lambda cmd, family: kind)
    w.chans[LEG] = Chan("leg", stasis=True, agent="a100")
    return w


@pytest.mark.parametrize(("cmd", "kind", "events"), [
    (c.Answer(CALLER), None, []),
    (c.Answer(CALLER), "400", [e.Failed(c.Answer(CALLER), "refused")]),
    (c.Answer(CALLER), "409", [e.Failed(c.Answer(CALLER), "refused")]),
    (c.Answer(CALLER), "412", [e.Failed(c.Answer(CALLER), "refused")]),
    (c.Answer(CALLER), "422", [e.Failed(c.Answer(CALLER), "refused")]),
    (c.Answer(CALLER), "500", [e.Failed(c.Answer(CALLER), "error")]),
    (c.Answer(CALLER), "timeout", [e.Failed(c.Answer(CALLER), "error")]),
    (c.Answer(CALLER), "alloc", [e.Failed(c.Answer(CALLER), "error")]),  # a plain 500 there
    (CREATE, None, [e.Created(LEG)]),
    (CREATE, "alloc", [e.Failed(CREATE, "unreachable")]),
    (CREATE, "timeout", [e.Failed(CREATE, "error")]),
    (DIAL, "alloc", [e.Failed(DIAL, "unreachable")]),
    (c.Enqueue(REQ), "redis", [e.Failed(c.Enqueue(REQ), "error")]),
    (c.Enqueue(REQ), "redis-conn", [e.Failed(c.Enqueue(REQ), "error")]),
    (c.Enqueue(REQ), "redis-timeout", [e.Failed(c.Enqueue(REQ), "error")]),
    (c.Enqueue(REQ), "conn", [e.Failed(c.Enqueue(REQ), "error")]),
    (c.Enqueue(REQ), "timeout", [e.Failed(c.Enqueue(REQ), "error")]),
    (c.Remember(CALLER, {"phase": "ivr"}), "redis-conn",
     [e.Failed(c.Remember(CALLER, {"phase": "ivr"}), "error")]),
    (c.CallEnded(offer("a100")), "redis", [e.Failed(c.CallEnded(offer("a100")), "error")]),
    (c.CheckChannels((CALLER, LEG)), None, []),
    (c.CheckChannels((CALLER, LEG)), "500",
     [e.Failed(c.CheckChannels((CALLER, LEG)), "error")]),
    (c.Resync((LEG,), ("p1",)), None, [e.LegInStasis(LEG), e.PlaybackDone("p1")]),
    (c.Resync((LEG,), ("p1",)), "timeout", [e.Failed(c.Resync((LEG,), ("p1",)), "error")]),
])
def test_what_a_port_raises_comes_back_as(cmd: c.Command, kind: str | None,
                                          events: list[e.Event]) -> None:
    w = world(kind)
    assert w.execute(cmd) == events
    assert w.executor.failures == (kind is not None)


@pytest.mark.parametrize(("cmd", "events"), [
    (c.Answer(LEG), [e.Failed(c.Answer(LEG), "gone")]),  # 404 Channel not found
    (c.Hangup(LEG), [e.Failed(c.Hangup(LEG), "gone")]),
    (c.AddToBridge("b1", (CALLER, LEG)), [e.Failed(c.AddToBridge("b1", (CALLER, LEG)),
                                                   "gone")]),  # 400 Channel not found
    (c.StopPlayback("p9"), [e.Failed(c.StopPlayback("p9"), "gone")]),  # Playback not found
    (c.CheckChannels((CALLER, LEG)), [e.Vanished(frozenset({LEG}))]),
    (c.Resync((CALLER, LEG), ()), [e.Vanished(frozenset({LEG}))]),
])
def test_a_channel_gone_is_no_failure(cmd: c.Command, events: list[e.Event]) -> None:
    w = world(None)
    w.chans[LEG].alive = False
    assert w.execute(cmd) == events
    assert w.executor.failures == 0


def test_out_of_stasis_is_gone_but_still_there_for_a_lookup() -> None:
    w = world(None)
    w.chans[CALLER].stasis = False  # sent to the dialplan: 409 Channel not in Stasis
    assert w.execute(c.Answer(CALLER)) == [e.Failed(c.Answer(CALLER), "gone")]
    assert w.execute(c.CheckChannels((CALLER,))) == []


@pytest.mark.parametrize(("kind", "made"), [(None, True), ("timeout", False), ("late", True)])
def test_a_late_answer_is_a_failure_of_what_was_done(kind: str | None, made: bool) -> None:
    """No answer from Asterisk: the channel may be there all the same."""
    w = world(kind)
    del w.chans[LEG]
    assert w.execute(CREATE) == ([e.Created(LEG)] if kind is None
                                 else [e.Failed(CREATE, "error")])
    assert (LEG in w.chans) == made
    hangup = c.Hangup(LEG)
    if made and kind == "late":
        assert w.execute(hangup) == [e.Failed(hangup, "error")]
        assert not w.chans[LEG].alive


def test_an_exception_no_port_should_raise_is_not_hidden() -> None:
    with pytest.raises(Bug):
        world("bug").execute(c.Answer(CALLER))


SNOOP = c.StartSnoop("acd-snoop-1", CALLER, "both", "none", "supervisor,x")


@pytest.mark.parametrize(("cmd", "events", "sent"), [
    (CREATE, [e.Failed(CREATE, "error")], False),  # Asterisk would drop it unheard
    (SNOOP, [e.Failed(SNOOP, "error")], False),
    (c.Answer(CALLER), [], True),  # what does not make a channel in the app goes out
    (DIAL, [], True),
])
def test_no_channel_is_made_in_the_app_while_its_events_socket_is_down(
        cmd: c.Command, events: list[e.Event], sent: bool) -> None:
    w = PortWorld(FLOWS["plain"], lambda cmd, family: None)
    w.chans[LEG] = Chan("leg", stasis=True, agent="a100")
    if cmd == CREATE:
        del w.chans[LEG]
    w.deps.listening = lambda: False
    assert run_now(w.executor.run(CALL_ID, cmd, w.box)) == events
    assert w.executor.failures == (not sent)
    if cmd == CREATE:
        assert LEG not in w.chans
