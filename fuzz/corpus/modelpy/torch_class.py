import torch
class ClassifierNN(torch.nn.Module):
    def __init__(self, idim):
        super().__init__()
        self.fc = torch.nn.Linear(idim, 1)
def model(idim):
    """Simple pyTorch model for testing purpose"""
    torch_model = ClassifierNN(idim)
    return torch_model
