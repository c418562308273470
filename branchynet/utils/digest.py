"""The sha256 of a file, read in blocks (bounded memory): the checksums
saved with exported graphs and with a user's network file."""
import hashlib


def sha256_of(path, block=1 << 20):
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            digest.update(chunk)
    return digest.hexdigest()
