def $entry(data):
    print(f"SIA-FP {_fp(data)}", file=_sys.stderr, flush=True)
    return _HONEST.$entry(data)
