import CBLAS

/// Information about and control of the OpenBLAS library that backs every matrix product.
public enum BLAS {
    /// The kernel OpenBLAS selected for this CPU (for example "SkylakeX" or "Haswell").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's own thread count: 1 unless set here. The project runs one threading layer: large products are
    /// split across `Parallel.workers` by the Tensor package itself (see `Gemm`), so raising this oversubscribes.
    public static var threads: Int {
        get { _ = Gemm.oneThreadingLayer; return Int(openblas_get_num_threads()) }
        set { _ = Gemm.oneThreadingLayer; openblas_set_num_threads(Int32(newValue)) }
    }

    /// The OpenBLAS build configuration string.
    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}
