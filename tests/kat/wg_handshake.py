#!/usr/bin/env python3
"""WireGuard's handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, computed
independently of tunnel/noise.c for its known-answer tests.

Written from the whitepaper (J. A. Donenfeld, "WireGuard: Next Generation
Kernel Network Tunnel", NDSS 2017, sections 5.4.1 to 5.4.6, and
https://www.wireguard.com/protocol/) over python3-cryptography's X25519 and
ChaCha20-Poly1305 and hashlib's BLAKE2s; it shares no code with the C side.

Given both static private keys, both ephemeral private keys, a PSK, a TAI64N
timestamp and both sender indexes, it plays both sides: it builds the
initiation, consumes it as the responder, builds the response, consumes that
as the initiator, and prints one "name hex" line each for

  initiation         the 148-byte initiation, mac1 set, mac2 zero
  initiation_cookie  the same with mac2 keyed with --cookie
  response           the 92-byte response, mac1 set, mac2 zero
  initiator_send     the transport key the initiator sends with (T1)
  initiator_recv     the one it receives with (T2)

With no options it uses the inputs pinned in tests/unit/test_noise.c, which
pins this output; tests/unit/test_noise_py.c runs it on random inputs.

Usage: tests/kat/wg_handshake.py [--init-static HEX] [--resp-static HEX]
       [--init-ephemeral HEX] [--resp-ephemeral HEX] [--psk HEX]
       [--timestamp HEX] [--init-index N] [--resp-index N] [--cookie HEX]
"""

import argparse
import hashlib
import hmac
import struct
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError as e:
    sys.exit(f"wg_handshake.py: python3-cryptography is missing ({e}); "
             "install it with scripts/deps.sh")

# Section 5.4: the protocol's constants.
CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"
MSG_INIT, MSG_RESPONSE = 1, 2

# The inputs of the vectors pinned in tests/unit/test_noise.c. The ephemeral
# keys are left unclamped on purpose: both sides must clamp them alike.
PINNED = {
    "init_static": "aa8ef736ff4b2b6a014d3680efe34384dde060b5f7207fd7f3633db14d235f06",
    "resp_static": "7be208409fe54c195bb7d6dbd2129c1f6b6d812da4f71f8590bd0a0ed77b581c",
    "init_ephemeral": "643b5aec91a1510fa18c4ee5e90550bdd45bcf1d4c90f96f773ffc50c4ab9b89",
    "resp_ephemeral": "2c906c6250a087a631b8685e3951e252a5df56c037e6f8e71a19652f39fabc22",
    "psk": "d6aeb3694fa81808a8208a898a43689a3078b717a28f3239146f20d88ffdab1c",
    # TAI64N of 2023-11-14 22:13:20 UTC (2^62 + 10 + 1700000000 s), and
    # 0x1b000000 ns, a multiple of 2^24 as a real timestamp's are.
    "timestamp": "400000006553f10a1b000000",
    "init_index": 0x44332211,
    "resp_index": 0x88776655,
    "cookie": "099679cb5ab11079fafad01d724df2c4",
}


# Section 5.4: the functions the messages are written in.
def HASH(data):
    return hashlib.blake2s(data, digest_size=32).digest()


def MAC(key, data):
    return hashlib.blake2s(data, digest_size=16, key=key).digest()


def HMAC(key, data):
    return hmac.new(key, data, hashlib.blake2s).digest()


def KDF(n, key, data):
    """tau0 = HMAC(key, data), tau1 = HMAC(tau0, 0x1),
    tau_i = HMAC(tau0, tau_{i-1} || i); returns (tau1, ..., tau_n)."""
    tau0 = HMAC(key, data)
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = HMAC(tau0, prev + bytes([i]))
        out.append(prev)
    return out


def AEAD(key, counter, plain, auth):
    """ChaCha20-Poly1305 with a nonce of 32 zero bits then the counter,
    64 bits little-endian."""
    return ChaCha20Poly1305(key).encrypt(b"\0" * 4 + struct.pack("<Q", counter), plain, auth)


def AEAD_open(key, counter, sealed, auth):
    return ChaCha20Poly1305(key).decrypt(b"\0" * 4 + struct.pack("<Q", counter), sealed, auth)


def DH(priv, pub):
    """X25519; python3-cryptography raises ValueError on the all-zero result
    of a low-order point, which the handshake must refuse anyway."""
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(pub))


def DH_PUBKEY(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def macs(msg_alpha, receiver_pub, cookie):
    """mac1 = MAC(HASH(LABEL_MAC1 || receiver's static), msg_alpha);
    mac2 = MAC(cookie, msg_beta), or 16 zeros without a cookie."""
    mac1 = MAC(HASH(LABEL_MAC1 + receiver_pub), msg_alpha)
    mac2 = MAC(cookie, msg_alpha + mac1) if cookie else b"\0" * 16
    return msg_alpha + mac1 + mac2


def initial_state(resp_pub):
    c = HASH(CONSTRUCTION)
    h = HASH(c + IDENTIFIER)
    return c, HASH(h + resp_pub)


def create_initiation(s_priv_i, s_pub_r, e_priv_i, timestamp, index_i, cookie):
    """Section 5.4.2, the initiator's side."""
    c, h = initial_state(s_pub_r)
    e_pub_i = DH_PUBKEY(e_priv_i)
    (c,) = KDF(1, c, e_pub_i)
    h = HASH(h + e_pub_i)
    c, k = KDF(2, c, DH(e_priv_i, s_pub_r))
    enc_static = AEAD(k, 0, DH_PUBKEY(s_priv_i), h)
    h = HASH(h + enc_static)
    c, k = KDF(2, c, DH(s_priv_i, s_pub_r))
    enc_timestamp = AEAD(k, 0, timestamp, h)
    h = HASH(h + enc_timestamp)
    alpha = struct.pack("<B3xI", MSG_INIT, index_i) + e_pub_i + enc_static + enc_timestamp
    return macs(alpha, s_pub_r, None), macs(alpha, s_pub_r, cookie), c, h


def consume_initiation(msg, s_priv_r):
    """Section 5.4.2, the responder's side; returns what it learnt."""
    s_pub_r = DH_PUBKEY(s_priv_r)
    assert msg[:4] == bytes([MSG_INIT, 0, 0, 0])
    (index_i,) = struct.unpack_from("<I", msg, 4)
    e_pub_i, enc_static, enc_timestamp = msg[8:40], msg[40:88], msg[88:116]
    assert msg[116:132] == MAC(HASH(LABEL_MAC1 + s_pub_r), msg[:116])
    c, h = initial_state(s_pub_r)
    (c,) = KDF(1, c, e_pub_i)
    h = HASH(h + e_pub_i)
    c, k = KDF(2, c, DH(s_priv_r, e_pub_i))
    s_pub_i = AEAD_open(k, 0, enc_static, h)
    h = HASH(h + enc_static)
    c, k = KDF(2, c, DH(s_priv_r, s_pub_i))
    timestamp = AEAD_open(k, 0, enc_timestamp, h)
    h = HASH(h + enc_timestamp)
    return c, h, index_i, e_pub_i, s_pub_i, timestamp


def create_response(c, h, e_priv_r, e_pub_i, s_pub_i, psk, index_r, index_i):
    """Section 5.4.3, the responder's side."""
    e_pub_r = DH_PUBKEY(e_priv_r)
    (c,) = KDF(1, c, e_pub_r)
    h = HASH(h + e_pub_r)
    (c,) = KDF(1, c, DH(e_priv_r, e_pub_i))
    (c,) = KDF(1, c, DH(e_priv_r, s_pub_i))
    c, tau, k = KDF(3, c, psk)
    h = HASH(h + tau)
    enc_empty = AEAD(k, 0, b"", h)
    h = HASH(h + enc_empty)
    alpha = struct.pack("<B3xII", MSG_RESPONSE, index_r, index_i) + e_pub_r + enc_empty
    return macs(alpha, s_pub_i, None), c, h


def consume_response(msg, c, h, e_priv_i, s_priv_i, psk):
    """Section 5.4.3, the initiator's side."""
    assert msg[:4] == bytes([MSG_RESPONSE, 0, 0, 0])
    assert msg[60:76] == MAC(HASH(LABEL_MAC1 + DH_PUBKEY(s_priv_i)), msg[:60])
    e_pub_r, enc_empty = msg[12:44], msg[44:60]
    (c,) = KDF(1, c, e_pub_r)
    h = HASH(h + e_pub_r)
    (c,) = KDF(1, c, DH(e_priv_i, e_pub_r))
    (c,) = KDF(1, c, DH(s_priv_i, e_pub_r))
    c, tau, k = KDF(3, c, psk)
    h = HASH(h + tau)
    assert AEAD_open(k, 0, enc_empty, h) == b""
    h = HASH(h + enc_empty)
    return c, h


def handshake(a):
    init, init_cookie, c_i, h_i = create_initiation(a.init_static, DH_PUBKEY(a.resp_static),
                                                    a.init_ephemeral, a.timestamp,
                                                    a.init_index, a.cookie)
    c_r, h_r, index_i, e_pub_i, s_pub_i, ts = consume_initiation(init, a.resp_static)
    assert (c_r, h_r, index_i, s_pub_i, ts) == (c_i, h_i, a.init_index,
                                                DH_PUBKEY(a.init_static), a.timestamp)
    resp, c_r, h_r = create_response(c_r, h_r, a.resp_ephemeral, e_pub_i, s_pub_i, a.psk,
                                     a.resp_index, index_i)
    c_i, h_i = consume_response(resp, c_i, h_i, a.init_ephemeral, a.init_static, a.psk)
    assert (c_i, h_i) == (c_r, h_r)
    # Section 5.4.5: (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(C_i, empty).
    t_send_i, t_recv_i = KDF(2, c_i, b"")
    return [("initiation", init), ("initiation_cookie", init_cookie), ("response", resp),
            ("initiator_send", t_send_i), ("initiator_recv", t_recv_i)]


def hexbytes(n):
    def parse(s):
        try:
            b = bytes.fromhex(s)
        except ValueError:
            b = b""
        if len(b) != n:
            raise argparse.ArgumentTypeError(f"'{s}' is not {n} bytes of hex")
        return b
    return parse


def index(s):
    v = int(s, 0)
    if not 0 <= v < 2**32:
        raise argparse.ArgumentTypeError(f"'{s}' is not a 32-bit index")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, n in [("init_static", 32), ("resp_static", 32), ("init_ephemeral", 32),
                    ("resp_ephemeral", 32), ("psk", 32), ("timestamp", 12), ("cookie", 16)]:
        ap.add_argument("--" + name.replace("_", "-"), type=hexbytes(n),
                        default=bytes.fromhex(PINNED[name]))
    for name in ["init_index", "resp_index"]:
        ap.add_argument("--" + name.replace("_", "-"), type=index, default=PINNED[name])
    a = ap.parse_args()
    # The constants the kernel and wireguard-go start from: a check that the
    # hash and the strings are the right ones before anything is printed.
    c, h = HASH(CONSTRUCTION), HASH(HASH(CONSTRUCTION) + IDENTIFIER)
    assert c.hex() == "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"
    assert h.hex() == "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3"
    for name, value in handshake(a):
        print(name, value.hex())


if __name__ == "__main__":
    main()
