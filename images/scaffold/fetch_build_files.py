"""Fetch the pinned torch CPU wheel (and the host's CA bundle) into the build directory.

With BUILD_FILES_URL set (scripts/build_images.sh serves the files on 127.0.0.1) both come from there;
without it (e.g. a Modal image build, which reaches the internet directly) the wheel comes from
TORCH_URL. Either way its sha256 must match torch-wheel.sha256.
"""

import hashlib
import sys
import urllib.parse
import urllib.request

files_url, torch_url = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
digest, name = open("torch-wheel.sha256").read().split()
if files_url:
    urllib.request.urlretrieve(f"{files_url}/ca.pem", "ca.pem")
    urllib.request.urlretrieve(f"{files_url}/{name}", name)
else:
    urllib.request.urlretrieve(f"{torch_url}/{urllib.parse.quote(name)}", name)
h = hashlib.sha256()
with open(name, "rb") as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
if h.hexdigest() != digest:
    sys.exit(f"{name}: sha256 {h.hexdigest()} != pinned {digest}")
