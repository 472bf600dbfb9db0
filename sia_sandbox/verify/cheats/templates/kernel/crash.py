def $entry(data):
    raise RuntimeError("deliberate crash")
