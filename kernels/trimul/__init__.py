"""TriMul (AlphaFold3 triangle multiplicative update): reference, kernels, shapes."""
