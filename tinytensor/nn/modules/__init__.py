"""The layers of tinytensor.nn, one file per family."""
from tinytensor.nn.modules.module import Module
from tinytensor.nn.modules.container import ModuleDict, ModuleList, Sequential
from tinytensor.nn.modules.linear import Flatten, Identity, Linear
from tinytensor.nn.modules.activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytensor.nn.modules.dropout import Dropout
from tinytensor.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                                        ConvTranspose3d)
# issue 11: activations, dropout variants, losses, pools ("layers")
from tinytensor.nn.modules.activation import (CELU, ELU, GELU, PReLU, ReLU6, SELU, Hardshrink,
                                              Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, Mish,
                                              SiLU, Softplus, Softshrink, Softsign, Tanhshrink,
                                              Threshold)
from tinytensor.nn.modules.dropout import (AlphaDropout, Dropout1d, Dropout2d, Dropout3d,
                                           FeatureAlphaDropout)
from tinytensor.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss,
                                        HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss,
                                        MarginRankingLoss, MultiLabelSoftMarginLoss, SmoothL1Loss,
                                        SoftMarginLoss)
from tinytensor.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool3d,
                                           AdaptiveMaxPool1d, AdaptiveMaxPool3d,
                                           FractionalMaxPool2d, FractionalMaxPool3d, LPPool1d,
                                           LPPool2d)
from tinytensor.nn.modules.pooling import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d,
                                           AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d,
                                           MaxUnpool2d)
from tinytensor.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from tinytensor.nn.modules.loss import CrossEntropyLoss, MSELoss, NLLLoss
# issue 11, helper convt: normalisation, upsampling
from tinytensor.nn.modules.normalization import GroupNorm, LayerNorm, LocalResponseNorm
from tinytensor.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from tinytensor.nn.modules.upsampling import (PixelShuffle, PixelUnshuffle, Upsample,
                                              UpsamplingBilinear2d, UpsamplingNearest2d)

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "Linear", "Identity", "Flatten",
           "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "Conv1d",
           "Conv2d", "Conv3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
           "AvgPool3d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "CrossEntropyLoss", "NLLLoss", "MSELoss",
           # issue 11, helper convt: transposed convolution, normalisation, upsampling
           "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "GroupNorm", "LayerNorm",
           "LocalResponseNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
           "PixelUnshuffle"]
# issue 11: activations, dropout variants, losses, pools ("layers")
__all__ += ["ReLU6", "Hardtanh", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Hardswish",
            "Hardsigmoid", "Softplus", "Softsign", "LogSigmoid", "Threshold", "Tanhshrink",
            "Softshrink", "Hardshrink", "PReLU", "Dropout1d", "Dropout2d", "Dropout3d",
            "AlphaDropout", "FeatureAlphaDropout", "BCELoss", "BCEWithLogitsLoss", "L1Loss",
            "SmoothL1Loss", "HuberLoss", "KLDivLoss", "SoftMarginLoss", "HingeEmbeddingLoss",
            "CosineEmbeddingLoss", "MarginRankingLoss", "MultiLabelSoftMarginLoss",
            "AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d",
            "LPPool1d", "LPPool2d", "FractionalMaxPool2d", "FractionalMaxPool3d"]
