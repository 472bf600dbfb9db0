def $entry(data):
    import torch
    return torch.zeros_like(_HONEST.$entry(data))
