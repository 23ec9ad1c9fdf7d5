"""Download the four public exports into ``data/raw/`` (where the internet is reachable)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from analysis.data.dictionary import EXPORT_FILES

BASE_URL = "https://code.s3.yandex.net/datasets/"
#: SHA-256 of the published files (the same as the local mirror's SHA256SUMS).
EXPECTED_SHA256 = {
    "market_file.csv": "d37e1cecc397903be42484eb3302d8e418ae3ee03982f3243d7a22ad656fda39",
    "market_money.csv": "eb8d1e0ffc2205def51d6550abbb2050671f6f051e65b7f36353460818de8baa",
    "market_time.csv": "6189ba85494c721f5ce1e1c07c58d6f7f2cd21c0752a3eb935a4252f62d569a9",
    "money.csv": "df4cd0ba8cf3dbf41f1246a8c2d7446c4eabfc0d29b1652af6e6f0050d8bc823",
}


class FetchError(Exception):
    """The exports could not be downloaded; the message says why in one line."""


def fetch_data(target: Path, base_url: str = BASE_URL, timeout: float = 20.0) -> list[Path]:
    """Download each export with a progress bar, check its SHA-256, and write it into ``target``."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in EXPORT_FILES:
        url = base_url + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                chunks = []
                with tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                    while chunk := response.read(65536):
                        chunks.append(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise FetchError(
                f"cannot download {url}: {reason}. The internet is not reachable from here; copy the four "
                f"exports into {target} or pass --data-dir"
            ) from None
        payload = b"".join(chunks)
        digest = hashlib.sha256(payload).hexdigest()
        if digest != EXPECTED_SHA256[name]:
            raise FetchError(f"{name}: downloaded file has SHA-256 {digest}, expected {EXPECTED_SHA256[name]}")
        path = target / name
        path.write_bytes(payload)
        written.append(path)
    return written
