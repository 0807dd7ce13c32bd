"""
PyTorch model of the MLaaS4HEP compatibility test: model(idim) returns a
torch.nn.Sequential, as in MLaaS4HEP's PyTorch example.
"""
try:
    import torch
except ImportError:
    torch = None


def model(idim):
    "Simple PyTorch model for testing purposes"
    if not torch:
        raise Exception("Please install pytorch package")
    ml_model = torch.nn.Sequential(
        torch.nn.Linear(idim, 32),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(32),
        torch.nn.Dropout(p=0.2),
        torch.nn.Linear(32, 1),
    )
    return ml_model
