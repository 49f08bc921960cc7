// MPIError: what can go wrong with MPI in this process, and MPI's own text for an error code.
#if MPI
import CMPI

/// A failed MPI call or an MPI world that cannot serve.
public enum MPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `call` returned `code`; `message` is MPI's own text for it.
    case call(String, code: Int32, message: String)
    /// The library cannot let one thread other than the main one make all calls (`MPI_THREAD_FUNNELED`).
    case threadSupport(provided: Int32)
    /// ``MPIWorld/finalize()`` has run: MPI cannot be used again in this process.
    case finalized
    /// A frame longer than MPI's `int` count can describe.
    case frameTooLarge(Int)

    public var description: String {
        switch self {
        case .call(let name, let code, let message): "\(name) failed (MPI error \(code)): \(message)"
        case .threadSupport(let provided):
            "the MPI library grants thread level \(provided), below MPI_THREAD_FUNNELED: it cannot be called from "
                + "a communication thread"
        case .finalized: "MPI has been finalized in this process"
        case .frameTooLarge(let n): "a frame of \(n) bytes is more than one MPI message can carry (2³¹ − 1)"
        }
    }
}

extension MPIWorld {
    /// MPI's own description of error `code`.
    static func errorText(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(fednoise_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard fednoise_mpi_error_string(code, &text, &length) == fednoise_mpi_success() else { return "unknown error" }
        return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
#endif
