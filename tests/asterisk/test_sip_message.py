"""The test phone's SIP helpers (tests/asterisk/sip_message.py), without an Asterisk:
if these are wrong, the real-tier attended REFER test fails for the phone's sake."""

from __future__ import annotations

import pytest

from tests.asterisk.sip_message import Message, digest, media_of, parse, tag_of, uri_of

# RFC 2617 section 3.5, the example exchange (qop auth).
RFC2617 = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
           'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
           'opaque="5ccc069c403ebaf9f0171e9517f40e41"')


def test_digest_answers_the_rfc_2617_example() -> None:
    value = digest("Mufasa", "Circle Of Life", [RFC2617], "GET", "/dir/index.html",
                   cnonce="0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert 'qop=auth, nc=00000001, cnonce="0a4f113b"' in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


def test_digest_takes_the_first_challenge_it_can_answer() -> None:
    sha512 = 'Digest realm="asterisk", nonce="n1", algorithm=SHA-512-256'
    md5 = 'Digest realm="asterisk", nonce="n2", algorithm=MD5'
    assert 'nonce="n2"' in digest("agent285", "pw", [sha512, md5], "INVITE", "sip:101@h")
    with pytest.raises(ValueError):
        digest("agent285", "pw", [sha512], "INVITE", "sip:101@h")


def test_a_message_parsed_and_built_again() -> None:
    body = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 10000 RTP/AVP 0\r\n"
    raw = ("SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.15:5080;rport;branch=z9hG4bKabc\r\n"
           "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKdef\r\n"
           "From: <sip:agent285@127.0.0.1>;tag=ours\r\nTo: <sip:101@127.0.0.1>;tag=theirs\r\n"
           "Call-ID: c1\r\nCSeq: 2 INVITE\r\nContact: <sip:asterisk@127.0.0.1:5060>\r\n"
           f"Content-Length: {len(body)}\r\n\r\n{body}")
    msg = parse(raw.encode())
    assert (msg.status, msg.method, msg.cseq, msg.branch) == (200, "INVITE", (2, "INVITE"),
                                                              "z9hG4bKabc")
    assert len(msg.all("via")) == 2
    assert (tag_of(msg.get("to")), tag_of(msg.get("from"))) == ("theirs", "ours")
    assert uri_of(msg.get("contact")) == "sip:asterisk@127.0.0.1:5060"
    assert media_of(msg.body) == ("127.0.0.1", 10000)
    again = parse(Message(msg.first, msg.headers, msg.body).encode())
    assert again == msg
    assert f"Content-Length: {len(body)}\r\n".encode() in msg.encode()
    assert b"Call-ID: c1\r\n" in msg.encode()
