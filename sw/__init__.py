"""qnnforge.sw: quantization-aware training (PyTorch), export, the artifact and the reference.

``artifact``, ``encoding``, ``reference`` and ``data`` need only numpy; ``quantizers``, ``model``,
``export`` and ``train`` need torch and are imported only when used.
"""
