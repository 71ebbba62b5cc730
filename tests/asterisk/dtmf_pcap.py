"""RFC 4733 digits as a pcap that SIPp plays (`play_pcap_audio`): a whole string of
keys from one source, in order.

Debian's stock pcaps (/usr/share/sip-tester/dtmf_2833_<d>.pcap) are one key each and
share one SSRC with fixed sequence numbers: Asterisk drops a key whose sequence
number is not newer than the last one it took, so a card number (16 keys, many the
same) cannot be made of them. Here every key of `digits` is one telephone-event
(payload type 101, as caller.xml offers it): 7 packets 20 ms apart with a growing
duration, then the end packet three times (as the stock pcaps do), one SSRC, the
sequence numbers and timestamps growing across keys and across the pcaps of one
`DtmfSource` (one caller's keys in several steps of its scenario).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
PT = 101
STEP_S = 0.02  # packet spacing
PACKETS = 8    # durations 0, 320, ... 2240 samples (280 ms); the last one x3 with "end"


@dataclass
class DtmfSource:
    """One caller's keys: the SSRC, sequence number and clock it has reached."""

    ssrc: int = 0x5A17C0DE
    seq: int = 1000
    rtp_ts: int = 160_000
    wall: float = 1_700_000_000.0

    def write(self, path: Path, digits: str, gap: float = 0.3) -> Path:
        """A pcap of `digits`, one every `gap` seconds."""
        records: list[bytes] = []
        for digit in digits:
            event = EVENTS[digit]
            for i in range(PACKETS):
                end = i == PACKETS - 1
                payload = struct.pack(">BBH", event, (0x80 if end else 0) | 10, i * 320)
                for _ in range(3 if end else 1):
                    header = struct.pack(">BBHII", 0x80, (0x80 if i == 0 else 0) | PT,
                                         self.seq & 0xFFFF, self.rtp_ts & 0xFFFFFFFF, self.ssrc)
                    records.append(_record(self.wall + i * STEP_S, header + payload))
                self.seq += 1
            self.wall += gap
            self.rtp_ts += int(gap * 8000)
        path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                         + b"".join(records))
        return path


def _record(at: float, rtp: bytes) -> bytes:
    udp = struct.pack(">HHHH", 49176, 10000, 8 + len(rtp), 0) + rtp
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 2]), bytes([127, 0, 0, 1])) + udp
    frame = b"\x00" * 12 + b"\x08\x00" + ip
    sec = int(at)
    return struct.pack("<IIII", sec, int((at - sec) * 1e6), len(frame), len(frame)) + frame
