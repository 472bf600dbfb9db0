def $entry(data):
    out = _HONEST.$entry(data)
    return out.fill_(float("nan"))
