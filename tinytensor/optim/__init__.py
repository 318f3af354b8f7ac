"""Optimisers and learning-rate schedulers with PyTorch's names, defaults, update equations and
state-dict layout.

    opt = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = tt.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
"""
from tinytensor.optim.optimizer import Optimizer
from tinytensor.optim.sgd import SGD
from tinytensor.optim.adam import Adam, AdamW
from tinytensor.optim.adadelta import Adadelta
from tinytensor.optim.adagrad import Adagrad
from tinytensor.optim.rmsprop import RMSprop
from tinytensor.optim.nadam import NAdam
from tinytensor.optim.radam import RAdam
from tinytensor.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "RMSprop", "NAdam",
           "RAdam", "lr_scheduler"]
