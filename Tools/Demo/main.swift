import Tensor

// The README's main job until the text-to-image model lands: show the numeric core working.
print("OpenBLAS kernel: \(BLAS.coreName), threads: \(BLAS.threads)")
let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
print("a = \(a)")
print("a^T = \(a.T.contiguous())")
