import warnings

# torch_geometric 2.8 decorates helpers with torch.jit.script at import time, and torch 2.14 deprecates that: a
# two-line FutureWarning in every process that imports the model, about code this package does not own.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
