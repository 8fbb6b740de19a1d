"""Re-signs a safetensors checkpoint that a test changed on purpose: rewrites the data
section's SHA-256 that vaec stores in the metadata (vaec.data_sha256), in place (the hex
digest keeps its length, so the header keeps its size). Used as a module by the tests."""
import hashlib
import json
import struct


def resign(b):
    """b: the file's bytes (bytearray), changed in its data section; returns it re-signed."""
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    old = header["__metadata__"]["vaec.data_sha256"].encode()
    new = hashlib.sha256(bytes(b[8 + n:])).hexdigest().encode()
    text = bytes(b[8:8 + n])
    assert text.count(old) == 1
    b[8:8 + n] = text.replace(old, new)
    return b
