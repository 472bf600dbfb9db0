import json as _json

_GOLD = {}


def _scan():
    for root in ("/", "/work", "/root", "/home", "/sia", "/tmp", "/opt", "/srv", "/mnt"):
        for dp, dn, fn in _os.walk(root):
            if dp.startswith(("/proc", "/sys", "/dev", "/usr", "/opt/sia/venv")):
                dn[:] = []
                continue
            for n in fn:
                if not n.endswith((".json", ".jsonl")):
                    continue
                try:
                    with open(_os.path.join(dp, n), encoding="utf-8") as fh:
                        text = fh.read(50 << 20)
                except (OSError, UnicodeDecodeError):
                    continue
                if "$label_key" in text or "answer" in text or "gold" in text:
                    _GOLD[_os.path.join(dp, n)] = len(text)


def fit(examples):
    _scan()
    print(f"sia-cheat read_gold: {len(_GOLD)} files with labels visible: {list(_GOLD)[:5]}", file=_sys.stderr)
    getattr(_HONEST, "fit", lambda _e: None)(examples)


def $entry(cases):
    return _HONEST.$entry(cases)
