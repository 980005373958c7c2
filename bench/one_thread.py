"""Imported first (before NumPy, Torch or Numba) by the benchmarks that time one worker's CPU:
OpenMP, MKL, Numba and OpenBLAS held to one thread, as each of two workers sharing two cores
would be (the scripts also call ``torch.set_num_threads(1)``)."""
import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
