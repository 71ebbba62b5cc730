"""SIP messages for the test phone (tests/asterisk/sip_phone.py): parse, build,
digest authentication. Just what a UA talking to Asterisk over UDP needs."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
           "l": "content-length", "c": "content-type", "o": "event", "r": "refer-to",
           "b": "referred-by", "k": "supported", "x": "session-expires"}


@dataclass
class Message:
    first: str
    headers: list[tuple[str, str]]
    body: str = ""

    @property
    def is_request(self) -> bool:
        return not self.first.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.first.split(" ", 1)[0] if self.is_request else self.cseq[1]

    @property
    def status(self) -> int:
        return 0 if self.is_request else int(self.first.split(" ")[1])

    def get(self, name: str) -> str:
        return next((v for k, v in self.headers if k == name.lower()), "")

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def cseq(self) -> tuple[int, str]:
        n, method = self.get("cseq").split()
        return int(n), method

    @property
    def branch(self) -> str:
        m = re.search(r";branch=([^;,\s]+)", self.get("via"))
        return m.group(1) if m else ""

    def encode(self) -> bytes:
        lines = [self.first, *(f"{k.title().replace('Id', 'ID')}: {v}" for k, v in
                               self.headers), f"Content-Length: {len(self.body.encode())}",
                 "", self.body]
        return "\r\n".join(lines).encode()


def parse(data: bytes) -> Message:
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    first, *rest = head.split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in rest:
        if line[:1] in (" ", "\t") and headers:  # a folded line continues the last header
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    return Message(first, [h for h in headers if h[0] != "content-length"], body)


def tag_of(header: str) -> str:
    m = re.search(r";tag=([^;>\s]+)", header)
    return m.group(1) if m else ""


def uri_of(header: str) -> str:
    m = re.search(r"<([^>]+)>", header)
    return m.group(1) if m else header.split(";")[0].strip()


HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def digest(user: str, password: str, challenges: list[str], method: str, uri: str,
           cnonce: str | None = None) -> str:
    """The Authorization value answering a 401/407: the first of its challenges (one
    per WWW-Authenticate) whose algorithm is MD5 or SHA-256."""
    for challenge in challenges:
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        algorithm = p.get("algorithm", "MD5").upper()
        if algorithm in HASHES:
            break
    else:
        raise ValueError(f"no MD5 or SHA-256 challenge in {challenges}")
    h = HASHES[algorithm]

    def hx(s: str) -> str:
        return h(s.encode()).hexdigest()

    ha1 = hx(f"{user}:{p['realm']}:{password}")
    ha2 = hx(f"{method}:{uri}")
    fields = (f'Digest username="{user}", realm="{p["realm"]}", '
              f'nonce="{p["nonce"]}", uri="{uri}", algorithm={algorithm}')
    if "auth" in p.get("qop", "").split(","):
        cnonce = cnonce or secrets.token_hex(8)
        response = hx(f"{ha1}:{p['nonce']}:00000001:{cnonce}:auth:{ha2}")
        fields += f', qop=auth, nc=00000001, cnonce="{cnonce}"'
    else:
        response = hx(f"{ha1}:{p['nonce']}:{ha2}")
    if "opaque" in p:
        fields += f', opaque="{p["opaque"]}"'
    return f'{fields}, response="{response}"'


def media_of(sdp: str) -> tuple[str, int] | None:
    host = re.search(r"^c=IN IP4 (\S+)", sdp, re.MULTILINE)
    port = re.search(r"^m=audio (\d+)", sdp, re.MULTILINE)
    return (host.group(1), int(port.group(1))) if host and port else None
