"""What a real Asterisk 22 answers when the same ARI request arrives twice.

acd/ari/transport.py retries a request whose connection was dropped unanswered only
when a second copy is harmless (`retry_safe`): this test is the evidence for each
rule. Every request below is sent twice in a row on a caller held in Stasis; the
pair of statuses is compared with what `acd.ari.client.TWICE` documents.
"""

from __future__ import annotations

import pytest

from acd.ari.retry import retry_safe
from tests.asterisk.ari_probe import AriProbe, of_type
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import AsteriskInstance

pytestmark = pytest.mark.asterisk

# name -> (first status, second status(es), whether a second copy is harmless). Where
# two answers race (the second dial and continue), both seen are listed.
EXPECTED: dict[str, tuple[int | frozenset[int], int | frozenset[int], bool]] = {
    "answer": (204, 204, True), "variable": (204, 204, True), "ring": (204, 204, True),
    "ring_stop": (204, 204, True), "hold": (204, 204, True), "unhold": (204, 204, True),
    "moh": (204, 204, True), "moh_stop": (204, 204, True),
    "play_id": (201, 201, False),  # plays twice (below)
    "snoop_id": (200, 500, True),  # "Channel Unique ID already in use": no second snoop
    "bridge_id": (200, 409, True),
    "add_channel": (204, 204, False),  # leaves the bridge and enters it again (below)
    "bridge_moh": (204, 204, True), "bridge_moh_stop": (204, 409, True),
    "remove_channel": (204, 422, False),
    "create_id": (200, 409, True),
    # 409 when the first dial is already under way; 204 and then the leg is broken
    "dial": (204, frozenset({204, 409}), False),
    "originate_id": (200, 409, True),
    # 404: the second dial ended it. A second DELETE that comes before the first
    # hang-up is done gets 204 too (CI saw it on the leg): the same race for both.
    "hangup_leg": (frozenset({204, 404}), frozenset({204, 404}), True),
    "hangup_orig": (204, frozenset({204, 404}), True), "destroy_bridge": (204, 404, True),
    "continue": (204, frozenset({404, 409}), False),
}


async def test_each_request_twice(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory,
    sipp_agents: AgentsFactory,
) -> None:
    sipp_agents(ring=5.0, behaviours=("answer",))
    await ari_probe.connect()
    call = sipp_caller(exten="100", caller_id="+15552", dtmf=(), hold=30.0)
    start = await ari_probe.wait_event(of_type("StasisStart"))
    cid = start["channel"]["id"]
    seen: dict[str, tuple[int, int]] = {}
    asked: dict[str, bool] = {}

    async def twice(label: str, method: str, path: str, **params: str) -> None:
        first, _ = await ari_probe.request(method, path, **params)
        second, _ = await ari_probe.request(method, path, **params)
        seen[label] = (first, second)
        asked[label] = retry_safe(method, path, params)

    await twice("answer", "POST", f"/channels/{cid}/answer")
    await twice("variable", "POST", f"/channels/{cid}/variable", variable="X", value="1")
    await twice("ring", "POST", f"/channels/{cid}/ring")
    await twice("ring_stop", "DELETE", f"/channels/{cid}/ring")
    await twice("hold", "POST", f"/channels/{cid}/hold")
    await twice("unhold", "DELETE", f"/channels/{cid}/hold")
    await twice("moh", "POST", f"/channels/{cid}/moh")
    await twice("moh_stop", "DELETE", f"/channels/{cid}/moh")
    await twice("play_id", "POST", f"/channels/{cid}/play", media="sound:beep",
                playbackId="twice-pb")
    await twice("snoop_id", "POST", f"/channels/{cid}/snoop", app="acd", spy="in",
                snoopId="twice-snoop")
    await twice("bridge_id", "POST", "/bridges", type="mixing", bridgeId="twice-br")
    await twice("add_channel", "POST", "/bridges/twice-br/addChannel", channel=cid)
    await twice("bridge_moh", "POST", "/bridges/twice-br/moh")
    await twice("bridge_moh_stop", "DELETE", "/bridges/twice-br/moh")
    await twice("remove_channel", "POST", "/bridges/twice-br/removeChannel", channel=cid)
    await twice("create_id", "POST", "/channels/create", endpoint="PJSIP/agent100",
                app="acd", appArgs="twice", channelId="twice-leg")
    await ari_probe.wait_event(of_type("StasisStart", "twice-leg"))
    await twice("dial", "POST", "/channels/twice-leg/dial", timeout="10")
    await twice("originate_id", "POST", "/channels", endpoint="PJSIP/agent101", app="acd",
                appArgs="twice", channelId="twice-orig")
    await twice("hangup_leg", "DELETE", "/channels/twice-leg")
    await twice("hangup_orig", "DELETE", "/channels/twice-orig")
    await twice("destroy_bridge", "DELETE", "/bridges/twice-br")
    await twice("continue", "POST", f"/channels/{cid}/continue", context="from-pstn",
                extension="h", priority="1")
    await call.wait()
    await ari_probe.request("DELETE", "/channels/twice-snoop")
    await ari_probe.wait_no_channels()
    for name, (first, second, _) in EXPECTED.items():
        assert seen[name][0] in _set(first) and seen[name][1] in _set(second), (name, seen)
    assert set(seen) == set(EXPECTED)
    assert asked == {name: harmless for name, (_, _, harmless) in EXPECTED.items()}
    kinds = [e["type"] for e in ari_probe.events]
    # The same playbackId twice plays the prompt twice: an id does not make play safe.
    assert [e["type"] for e in ari_probe.events if e["type"] == "PlaybackStarted"
            and e["playback"]["id"] == "twice-pb"] == ["PlaybackStarted"] * 2
    # addChannel twice takes the channel out of the bridge and back in.
    assert kinds.count("ChannelEnteredBridge") == 2
    if seen["dial"][1] == 204:
        # The second dial was taken: its INVITE fails inside PJSIP, the leg is hung up.
        assert seen["hangup_leg"][0] == 404


def _set(status: int | frozenset[int]) -> frozenset[int]:
    return status if isinstance(status, frozenset) else frozenset({status})
