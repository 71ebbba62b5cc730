"""A small scriptable agent phone (SIP over UDP, asyncio) for the real-Asterisk tier.

It exists for one thing SIPp cannot do: the attended transfer of an agent's phone,
a REFER on its first call whose Replaces names its second call. That value holds
Asterisk's to-tag of the second dialog, known only once that call is answered,
while a SIPp scenario fixes its Refer-To when it starts and owns one dialog only.
It is hand written because no Python SIP user agent in the package registry does
the job: pyVoIP 1.6.8 has no REFER at all, aiosip 0.2 (2017) is unmaintained, and
pjsua2's bindings (whose `xferReplaces` would) bring pjproject's own threads, media
stack and audio device into the test process; here the test owns every tag and
sees every NOTIFY.

What it does (RFC 3261, the parts a test needs; no TCP, no route sets, no forking,
and a CANCEL is answered 200 without stopping the answer: no test cancels it):
answers an INVITE (180, then 200 with a PCMU SDP) and takes its ACK; places an
INVITE (digest auth on a 401/407) and ACKs its 200; sends REFER and BYE on a dialog;
answers NOTIFY (recording each sipfrag status), BYE, OPTIONS and re-INVITEs with
200; sends 20 ms of PCMU silence every 20 ms to each answered call's media address
(Asterisk ends a call whose phone sends no media: endpoint rtp_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from tests.asterisk.sip_message import Message, digest, media_of, parse, tag_of, uri_of

T1 = 0.5  # RFC 3261 timer T1: the first retransmission interval


@dataclass
class Dialog:
    call_id: str
    local: str        # our From/To header value, with our tag
    remote: str       # theirs, with their tag
    target: str       # where in-dialog requests go (their Contact)
    incoming: bool
    cseq: int = 0
    media: tuple[str, int] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str = ""  # "us" or "them"
    rtp_port: int = 0

    @property
    def local_tag(self) -> str:
        return tag_of(self.local)

    @property
    def remote_tag(self) -> str:
        return tag_of(self.remote)


class SipPhone(asyncio.DatagramProtocol):
    """One phone at ip:port that registers nowhere: Asterisk reaches it through a dial
    string with its contact, and it authenticates its own requests as `user`."""

    def __init__(self, ip: str, port: int, user: str, password: str,
                 asterisk: tuple[str, int], ring: float = 0.3) -> None:
        self.ip, self.port, self.user, self.password = ip, port, user, password
        self.asterisk, self.ring = asterisk, ring
        self.dialogs: dict[str, Dialog] = {}
        self.incoming: asyncio.Queue[Dialog] = asyncio.Queue()
        self.notifies: list[tuple[str, str]] = []  # (sipfrag status, Subscription-State)
        self.notified = asyncio.Event()
        self.log: list[str] = []  # first lines sent (>) and received (<), for failures
        self._pending: dict[str, asyncio.Future[Message]] = {}  # branch -> final response
        self._uris: dict[str, str] = {}  # branch -> Request-URI (a failure's ACK reuses it)
        self._answers: dict[tuple[str, int, str], bytes] = {}  # (call-id, CSeq) -> answer
        self._acked: dict[str, asyncio.Event] = {}
        self._ringing: set[str] = set()  # branches of our INVITEs answered 1xx
        self._tasks: set[asyncio.Task[None]] = set()
        self._rtp: list[asyncio.DatagramTransport] = []
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> SipPhone:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.ip, self.port))
        return self

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for t in self._rtp:
            t.close()
        if self.transport is not None:
            self.transport.close()

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.ip}:{self.port}>"

    # -- transport -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is not an asyncio.DatagramTransport subclass.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # a keep-alive
        msg = parse(data)
        self.log.append(f"< {msg.first} ({msg.get('call-id')[:12]})")
        if msg.is_request:
            self._on_request(msg, addr)
        else:
            self._on_response(msg)

    def _send(self, msg: Message, addr: tuple[str, int] | None = None) -> bytes:
        assert self.transport is not None
        data = msg.encode()
        self.log.append(f"> {msg.first} ({msg.get('call-id')[:12]})")
        self.transport.sendto(data, addr or self.asterisk)
        return data

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- requests to us ------------------------------------------------------------

    def _respond(self, req: Message, status: int, reason: str, to: str | None = None,
                 extra: list[tuple[str, str]] | None = None, body: str = "",
                 addr: tuple[str, int] | None = None) -> bytes:
        headers = [("via", v) for v in req.all("via")]
        headers += [("from", req.get("from")), ("to", to or req.get("to")),
                    ("call-id", req.get("call-id")), ("cseq", req.get("cseq")),
                    *(extra or [])]
        data = self._send(Message(f"SIP/2.0 {status} {reason}", headers, body), addr)
        self._answers[(req.get("call-id"), *req.cseq)] = data
        return data

    def _on_request(self, req: Message, addr: tuple[str, int]) -> None:
        call_id, method = req.get("call-id"), req.method
        key = (call_id, *req.cseq)  # a CANCEL shares its INVITE's number
        if method != "ACK" and key in self._answers:  # a retransmission
            assert self.transport is not None
            self.transport.sendto(self._answers[key], addr)
            return
        dialog = self.dialogs.get(call_id)
        if method == "INVITE" and dialog is None:
            self._spawn(self._answer(req, addr))
        elif method == "INVITE":  # a re-INVITE: keep the media as it is
            assert dialog is not None
            self._respond(req, 200, "OK", extra=[("contact", self.contact),
                                                 ("content-type", "application/sdp")],
                          body=self._sdp(dialog), addr=addr)
        elif method == "ACK":
            if call_id in self._acked:
                self._acked[call_id].set()
        elif method == "NOTIFY":
            m = re.search(r"SIP/2\.0 (\d{3})", req.body)
            self.notifies.append((m.group(1) if m else "?", req.get("subscription-state")))
            self._respond(req, 200, "OK", addr=addr)
            self.notified.set()
        elif method == "BYE":
            self._respond(req, 200, "OK", addr=addr)
            if dialog is not None and not dialog.ended.is_set():
                dialog.ended_by = "them"
                dialog.ended.set()
        elif method == "CANCEL":
            self._respond(req, 200, "OK", addr=addr)
        else:  # OPTIONS, INFO, UPDATE...: fine
            self._respond(req, 200, "OK", addr=addr)

    async def _answer(self, req: Message, addr: tuple[str, int]) -> None:
        call_id = req.get("call-id")
        to = f"{req.get('to')};tag={secrets.token_hex(6)}"
        dialog = Dialog(call_id, to, req.get("from"), uri_of(req.get("contact")),
                        incoming=True, media=media_of(req.body))
        self.dialogs[call_id] = dialog
        self._respond(req, 180, "Ringing", to=to, extra=[("contact", self.contact)], addr=addr)
        await asyncio.sleep(self.ring)
        self._acked[call_id] = acked = asyncio.Event()
        await self._open_rtp(dialog)
        data = self._respond(req, 200, "OK", to=to, addr=addr,
                             extra=[("contact", self.contact),
                                    ("content-type", "application/sdp")],
                             body=self._sdp(dialog))
        wait = T1
        for _ in range(7):  # 200 retransmitted until ACKed (timer G, about 20 s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(acked.wait(), wait)
            if acked.is_set():
                break
            assert self.transport is not None
            self.transport.sendto(data, addr)
            wait = min(wait * 2, 4.0)
        else:
            self.log.append(f"! no ACK for the 200 of {call_id}")
            return
        dialog.answered.set()
        await self.incoming.put(dialog)

    # -- requests from us ----------------------------------------------------------

    async def _request(self, method: str, uri: str, headers: list[tuple[str, str]],
                       body: str = "", cseq: int = 1) -> Message:
        """Send until a final response (retransmitting on UDP); one digest retry."""
        auth: list[tuple[str, str]] = []
        for _ in range(2):
            branch = f"z9hG4bK{secrets.token_hex(8)}"
            msg = Message(f"{method} {uri} SIP/2.0",
                          [("via", f"SIP/2.0/UDP {self.ip}:{self.port};rport;branch={branch}"),
                           ("max-forwards", "70"), *headers, ("cseq", f"{cseq} {method}"),
                           *auth], body)
            reply = await self._transact(msg, branch)
            if reply.status not in (401, 407):
                return reply
            challenges = reply.all("www-authenticate" if reply.status == 401
                                   else "proxy-authenticate")
            name = "authorization" if reply.status == 401 else "proxy-authorization"
            auth = [(name, digest(self.user, self.password, challenges, method, uri))]
            cseq += 1
        raise AssertionError(f"{method}: still challenged after authenticating")

    async def _transact(self, msg: Message, branch: str) -> Message:
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[branch] = future
        self._uris[branch] = msg.first.split(" ")[1]
        wait, data = T1, self._send(msg)
        try:
            for _ in range(7):  # timer A/E: 0.5, 1, 2, 4, 4, ... (about 20 s in all)
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(future), wait)
                if branch in self._ringing:  # an INVITE answered 1xx: wait, do not resend
                    wait = 4.0
                    continue
                assert self.transport is not None
                self.transport.sendto(data, self.asterisk)
                wait = min(wait * 2, 4.0)
            raise AssertionError(f"no final response to {msg.first}")
        finally:
            self._pending.pop(branch, None)
            self._uris.pop(branch, None)

    def _on_response(self, res: Message) -> None:
        future = self._pending.get(res.branch)
        if res.method == "INVITE" and 200 <= res.status < 300 and future is None:
            self._ack(res)  # a retransmitted 200: its ACK again
            return
        if future is None or future.done():
            return
        if res.status < 200:
            self._ringing.add(res.branch)
            return
        if res.method == "INVITE" and res.status >= 300:
            # A failure's ACK is part of its INVITE's transaction: same branch and URI.
            self._ack(res, res.get("via"), self._uris[res.branch])
        future.set_result(res)

    def _ack(self, res: Message, via: str | None = None, uri: str | None = None) -> None:
        cseq = res.cseq[0]
        if via is None or uri is None:  # a 2xx's ACK: a transaction of its own
            via = f"SIP/2.0/UDP {self.ip}:{self.port};rport;branch=z9hG4bK{secrets.token_hex(8)}"
            uri = uri_of(res.get("contact"))
        self._send(Message(f"ACK {uri} SIP/2.0",
                           [("via", via), ("max-forwards", "70"), ("from", res.get("from")),
                            ("to", res.get("to")), ("call-id", res.get("call-id")),
                            ("cseq", f"{cseq} ACK")]))

    async def call(self, number: str) -> Dialog:
        """Call `number` at Asterisk (the phone's own call); returns once answered."""
        host = f"{self.asterisk[0]}:{self.asterisk[1]}"
        uri = f"sip:{number}@{host}"
        call_id = secrets.token_hex(12)
        local = f"<sip:{self.user}@{host}>;tag={secrets.token_hex(6)}"
        dialog = Dialog(call_id, local, f"<{uri}>", uri, incoming=False)
        await self._open_rtp(dialog)
        reply = await self._request("INVITE", uri, [
            ("from", local), ("to", f"<{uri}>"), ("call-id", call_id),
            ("contact", self.contact), ("content-type", "application/sdp")],
            body=self._sdp(dialog))
        if reply.status != 200:
            raise AssertionError(f"the call to {number}: {reply.first}")
        dialog.remote, dialog.target = reply.get("to"), uri_of(reply.get("contact"))
        dialog.cseq = reply.cseq[0]
        dialog.media = media_of(reply.body)
        self.dialogs[call_id] = dialog
        self._ack(reply)
        dialog.answered.set()
        return dialog

    async def in_dialog(self, dialog: Dialog, method: str,
                        extra: list[tuple[str, str]] | None = None) -> Message:
        dialog.cseq += 1
        return await self._request(method, dialog.target, [
            ("from", dialog.local), ("to", dialog.remote), ("call-id", dialog.call_id),
            ("contact", self.contact), *(extra or [])], cseq=dialog.cseq)

    async def refer_replacing(self, dialog: Dialog, number: str, other: Dialog) -> Message:
        """The transfer button: REFER on `dialog` to `number`, replacing `other`."""
        host = f"{self.asterisk[0]}:{self.asterisk[1]}"
        replaces = (f"{other.call_id}%3Bto-tag%3D{other.remote_tag}"
                    f"%3Bfrom-tag%3D{other.local_tag}")
        return await self.in_dialog(dialog, "REFER", [
            ("refer-to", f"<sip:{number}@{host}?Replaces={replaces}>"),
            ("referred-by", f"<sip:{self.user}@{host}>")])

    async def bye(self, dialog: Dialog) -> Message:
        dialog.ended_by = "us"
        reply = await self.in_dialog(dialog, "BYE")
        dialog.ended.set()
        return reply

    # -- media -----------------------------------------------------------------------

    def _sdp(self, dialog: Dialog) -> str:
        return "\r\n".join([
            "v=0", f"o=phone 1 1 IN IP4 {self.ip}", "s=-", f"c=IN IP4 {self.ip}", "t=0 0",
            f"m=audio {dialog.rtp_port} RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv", ""])

    async def _open_rtp(self, dialog: Dialog) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=(self.ip, 0))
        self._rtp.append(transport)
        dialog.rtp_port = transport.get_extra_info("sockname")[1]
        self._spawn(self._silence(dialog, transport))

    async def _silence(self, dialog: Dialog, transport: asyncio.DatagramTransport) -> None:
        await dialog.answered.wait()
        ssrc, seq, ts = secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        while not dialog.ended.is_set() and dialog.media is not None:
            header = bytes([0x80, 0]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big")
            transport.sendto(header + ssrc.to_bytes(4, "big") + b"\xff" * 160, dialog.media)
            seq, ts = (seq + 1) & 0xFFFF, (ts + 160) & 0xFFFFFFFF
            await asyncio.sleep(0.02)
