#!/usr/bin/env python3
"""Ethereum signature vectors for Sigil's `ethereum` plugin, made by an
independent implementation: the PyPI package eth-account (with eth-keys),
which wallets and web3.py use. Fixed keys, deterministic (RFC 6979)
signatures; every vector's expected verdict and recovered address are
checked with eth-account's own recovery before it is written.

    python3 ethereum-personal-sign.py > ethereum-personal-sign.json

Groups: for each of three keys, its address (the key Sigil registers) and
the vectors of one scheme: `eip191` (personal_sign: the document is the
message) and `plain` (the document is the 32-byte digest). Vectors to
refuse: an altered message, another key's signature (valid signature,
wrong address: recovers the other address), a high-S twin (EIP-2), a
v of 29, the bare recovery id as v (0 or 1: a second spelling of the same
signature), a v of 37 (EIP-155, a transaction's), r of zero, one byte
short.
"""

import json

from eth_account import Account
from eth_account.messages import encode_defunct, _hash_eip191_message
from eth_keys import keys as eth_keys

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEYS = [bytes([i + 1]) * 32 for i in range(3)]
MESSAGES = [b"", b"hello world", b"Sigil verifies Ethereum personal_sign messages.\n", bytes(range(256))]


def sign_personal(key, message):
    signed = Account.sign_message(encode_defunct(primitive=message), private_key=key)
    return bytes(signed.signature)


def sign_digest(key, digest):
    signature = eth_keys.PrivateKey(key).sign_msg_hash(digest)
    r, s, v = signature.r, signature.s, signature.v
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


def recover(scheme, message, signature):
    if scheme == "eip191":
        return Account.recover_message(encode_defunct(primitive=message), signature=signature)
    v = signature[64] - 27
    sig = eth_keys.Signature(vrs=(v, int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")))
    return sig.recover_public_key_from_msg_hash(message).to_checksum_address()


def high_s(signature):
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28


def main():
    groups, tc = [], 0
    for index, key in enumerate(KEYS):
        address = Account.from_key(key).address
        other = KEYS[(index + 1) % len(KEYS)]
        for scheme in ("eip191", "plain"):
            tests = []

            def add(comment, message, signature, result, recovered=None):
                nonlocal tc
                tc += 1
                if result == "valid":
                    assert recover(scheme, message, signature) == address
                    recovered = address
                elif recovered is not None:
                    assert recover(scheme, message, signature) == recovered
                tests.append({
                    "tc_id": tc,
                    "comment": comment,
                    "message": message.hex(),
                    "signature": signature.hex(),
                    "result": result,
                    "recovered": recovered,
                })

            for message in MESSAGES:
                document = message if scheme == "eip191" else bytes(_hash_eip191_message(encode_defunct(primitive=message)))
                sign = sign_personal if scheme == "eip191" else sign_digest
                signature = sign(key, document)
                add(f"{len(message)}-byte message", document, signature, "valid")
            document = MESSAGES[1] if scheme == "eip191" else bytes(_hash_eip191_message(encode_defunct(primitive=MESSAGES[1])))
            sign = sign_personal if scheme == "eip191" else sign_digest
            genuine = sign(key, document)
            altered = bytes([document[0] ^ 1]) + document[1:]
            # An altered document still recovers some address, not this one.
            add("altered document", altered, genuine, "invalid", recover(scheme, altered, genuine))
            stranger = sign(other, document)
            add("signed by another key", document, stranger, "invalid", Account.from_key(other).address)
            add("high-S twin (EIP-2)", document, high_s(genuine), "invalid")
            add("v = 29", document, genuine[:64] + bytes([29]), "invalid")
            add("v as the bare recovery id (0 or 1): a second spelling", document,
                genuine[:64] + bytes([genuine[64] - 27]), "invalid")
            add("v = 37 (EIP-155, a transaction's)", document, genuine[:64] + bytes([37]), "invalid")
            add("r = 0", document, bytes(32) + genuine[32:], "invalid")
            add("one byte short", document, genuine[:64], "invalid")
            groups.append({"address": address, "scheme": scheme, "tests": tests})
    print(json.dumps({
        "source": "eth-account (PyPI), ethereum-personal-sign.py",
        "groups": groups,
    }, indent=1))


if __name__ == "__main__":
    main()
