"""Optimisers with PyTorch's names, defaults, update equations and state-dict layout.

    opt = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    opt.zero_grad(); loss.backward(); opt.step()
"""
from tinytensor.optim.optimizer import Optimizer
from tinytensor.optim.sgd import SGD
from tinytensor.optim.adam import Adam, AdamW

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
