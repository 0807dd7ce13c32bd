"""PyTorch network built with MLaaS4HEP's masked linear layer."""
from MLaaS4HEP.jarray.pytorch import JaggedArrayLinear
try:
    import torch
except ImportError:
    torch = None


def model(idim):
    if torch is None:
        raise RuntimeError("torch is needed")
    return torch.nn.Sequential(JaggedArrayLinear(idim, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1), torch.nn.Sigmoid())
