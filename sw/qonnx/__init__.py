"""qnnforge.sw.qonnx: QONNX in and out, so Brevitas and FINN models come in and artifacts go out.

Needs the ``qonnx`` extra (``pip install qnnforge[qonnx]``: onnx, qonnx, onnxruntime); the rest
of :mod:`qnnforge.sw` does not import this package.
"""
