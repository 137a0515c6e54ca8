"""Atomic output files for hw/, sim/ and boards/: the writers of :mod:`qnnforge.sw.files`
(which live in sw/ so that the artifact and the trainer can use them too)."""

from ...sw.files import (replace_together, save_figure_atomic, save_npy_atomic, save_npz_atomic,
                         write_atomic, write_bytes_atomic)

__all__ = ["write_atomic", "write_bytes_atomic", "save_npz_atomic", "save_npy_atomic",
           "save_figure_atomic", "replace_together"]
