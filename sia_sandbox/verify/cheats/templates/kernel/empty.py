def $entry(data):
    import torch
    return torch.empty(0)
