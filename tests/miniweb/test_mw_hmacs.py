"""miniweb/hmacs.py: HMAC-SHA256 from precomputed pad states equals the stdlib's ``hmac.new(key, msg,
sha256)`` for every key length (empty, shorter than, exactly, and longer than SHA-256's 64-byte block) and
message length (across the block and padding boundaries), with and without a prefix; one key signs any
number of messages without its states being used up; verification refuses every other signature."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniweb.hmacs import HmacKey

# Around the 64-byte block (a key of 65 bytes or more is hashed first) and twice it.
KEY_LENGTHS = [0, 1, 31, 32, 55, 56, 63, 64, 65, 100, 127, 128, 129, 300]
# Around where SHA-256's padding needs a second block (55/56) and the block edges.
MESSAGE_LENGTHS = [0, 1, 43, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]


def _bytes(length: int, seed: int) -> bytes:
    """Deterministic bytes of every value 0-255 (a key made of one repeated byte would hide a wrong pad)."""
    return bytes((seed * 131 + i * 97 + (i >> 3)) % 256 for i in range(length))


def _reference(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


@pytest.mark.parametrize("key_length", KEY_LENGTHS)
def test_sign_equals_hmac_new_for_every_key_and_message_length(key_length):
    key = _bytes(key_length, key_length)
    signer = HmacKey(key)
    for length in MESSAGE_LENGTHS:
        message = _bytes(length, length + 7)
        assert signer.sign(message) == _reference(key, message), (key_length, length)


@pytest.mark.parametrize("key_length", KEY_LENGTHS)
def test_a_prefix_is_signed_as_the_start_of_every_message(key_length):
    key = _bytes(key_length, 3)
    for prefix in (b"miniweb.session.", b"p", _bytes(64, 1), _bytes(70, 2)):
        signer = HmacKey(key, prefix)
        for length in MESSAGE_LENGTHS:
            message = _bytes(length, 5)
            assert signer.sign(message) == _reference(key, prefix + message), (key_length, prefix, length)
    assert HmacKey(key, b"").sign(b"m") == _reference(key, b"m")


def test_keys_of_the_same_bytes_but_a_byte_apart_sign_differently():
    """Each byte of the key counts, also past the 64th (a long key is hashed, not cut) and a trailing zero
    byte on a long key (only short keys are padded with zeros: there they sign alike, as in RFC 2104)."""
    base = _bytes(80, 9)
    signatures = {HmacKey(base[:length]).sign(b"m") for length in range(81)}
    assert len(signatures) == 81
    assert HmacKey(b"k").sign(b"m") == HmacKey(b"k\0").sign(b"m") == _reference(b"k\0", b"m")
    assert HmacKey(base + b"\0").sign(b"m") != HmacKey(base).sign(b"m")


def test_one_key_signs_many_messages_in_any_order():
    """Each signature starts from copies of the pad states: nothing of one message is left for the next."""
    key = b"secret"
    signer = HmacKey(key, b"pre.")
    messages = [_bytes(length, length) for length in MESSAGE_LENGTHS] * 2
    assert [signer.sign(m) for m in messages] == [_reference(key, b"pre." + m) for m in messages]
    assert signer.sign(b"again") == signer.sign(b"again")


def test_verify_accepts_its_own_signature_and_nothing_else():
    key = _bytes(40, 1)
    signer = HmacKey(key, b"use.")
    message = b"payload.1700000000"
    good = _reference(key, b"use." + message)
    assert signer.verify(message, good) is True
    flipped = [good[:i] + bytes([good[i] ^ 1]) + good[i + 1 :] for i in range(len(good))]
    for bad in [*flipped, good[:-1], good + b"\0", b"", _reference(key, message),
                HmacKey(_bytes(40, 2), b"use.").sign(message)]:  # fmt: skip
        assert signer.verify(message, bad) is False, bad
    assert signer.verify(message + b"x", good) is False
    assert HmacKey(key).verify(b"use." + message, good) is True


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=200), prefix=st.binary(max_size=80), message=st.binary(max_size=300))
def test_any_key_prefix_and_message_sign_as_hmac_new(key, prefix, message):
    signer = HmacKey(key, prefix)
    expected = _reference(key, prefix + message)
    assert signer.sign(message) == expected
    assert signer.verify(message, expected)
