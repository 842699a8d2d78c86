#!/usr/bin/python3
"""A minimal WebRTC-style client for one mediasoup WebRtcTransport, as a browser would be: an ICE
binding request with USE-CANDIDATE (short-term credentials), then a DTLS 1.2 handshake as the DTLS
client offering the SRTP profiles browsers offer. Uses Debian's python3-openssl (pyOpenSSL).

Checks the worker's DTLS path without a browser: the handshake the 3.13+ worker crashed in on
Debian's OpenSSL (see scripts/mediasoup-worker/patches/). Prints this side's certificate
fingerprint first (the caller passes it to transport.connect()), waits for a line on stdin, then
connects and prints the negotiated SRTP profile.

usage: dtls-client.py HOST PORT SERVER_UFRAG SERVER_PWD
"""
import binascii
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

from OpenSSL import SSL, crypto

MAGIC = 0x2112A442


def stun_attr(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def binding_request(server_ufrag, server_pwd):
    txid = os.urandom(12)
    attrs = stun_attr(0x0006, f"{server_ufrag}:roundtablecheck".encode())  # USERNAME
    attrs += stun_attr(0x0024, struct.pack("!I", 1853824767))  # PRIORITY
    attrs += stun_attr(0x802A, os.urandom(8))  # ICE-CONTROLLING
    attrs += stun_attr(0x0025, b"")  # USE-CANDIDATE
    # MESSAGE-INTEGRITY over the message with its length counting the MI attribute itself.
    header = struct.pack("!HHI", 0x0001, len(attrs) + 24, MAGIC) + txid
    mac = hmac.new(server_pwd.encode(), header + attrs, hashlib.sha1).digest()
    attrs += stun_attr(0x0008, mac)
    header = struct.pack("!HHI", 0x0001, len(attrs) + 8, MAGIC) + txid
    crc = (binascii.crc32(header + attrs) ^ 0x5354554E) & 0xFFFFFFFF
    attrs += stun_attr(0x8028, struct.pack("!I", crc))  # FINGERPRINT
    return header + attrs, txid


def self_signed():
    key = crypto.PKey()
    key.generate_key(crypto.TYPE_RSA, 2048)
    cert = crypto.X509()
    cert.get_subject().CN = "roundtable-dtls-check"
    cert.set_serial_number(int.from_bytes(os.urandom(8), "big"))
    cert.gmtime_adj_notBefore(-60)
    cert.gmtime_adj_notAfter(3600)
    cert.set_issuer(cert.get_subject())
    cert.set_pubkey(key)
    cert.sign(key, "sha256")
    return key, cert


def main():
    host, port, ufrag, pwd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    key, cert = self_signed()
    print(cert.digest("sha256").decode(), flush=True)
    sys.stdin.readline()  # the caller has called transport.connect() with that fingerprint

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.2)
    sock.connect((host, port))
    request, txid = binding_request(ufrag, pwd)
    for _ in range(25):
        sock.send(request)
        try:
            reply = sock.recv(2048)
        except socket.timeout:
            continue
        if reply[:2] == b"\x01\x01" and reply[8:20] == txid:
            break
        raise SystemExit(f"unexpected ICE reply {reply[:2].hex()}")
    else:
        raise SystemExit("no ICE binding success response")

    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_privatekey(key)
    ctx.use_certificate(cert)
    ctx.set_verify(SSL.VERIFY_PEER, lambda *args: True)  # mediasoup's cert is self-signed
    ctx.set_tlsext_use_srtp(b"SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80")
    conn = SSL.Connection(ctx, None)  # memory BIOs: datagrams go through our own socket
    conn.set_connect_state()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            conn.do_handshake()
            done = True
        except SSL.WantReadError:
            done = False
        try:
            out = conn.bio_read(65536)
            sock.send(out)
        except SSL.WantReadError:
            pass
        if done:
            break
        try:
            conn.bio_write(sock.recv(65536))
        except socket.timeout:
            pass
    else:
        raise SystemExit("DTLS handshake timed out")
    peer = conn.get_peer_certificate()
    print(f"DTLS {conn.get_protocol_version_name()} connected, cipher {conn.get_cipher_name()}, "
          f"server certificate {peer.digest('sha256').decode()[:23]}...", flush=True)


if __name__ == "__main__":
    main()
