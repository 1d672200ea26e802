// Compiled only with the MPI trait (`swift build --traits MPI`); without it this module is empty, so the default
// build needs no MPI.
#if MPI
import CMPI
import SwivelConcurrency
import SwivelIO

/// Errors from the MPI layer.
public enum MPIError: Error, CustomStringConvertible {
    /// An MPI call returned an error code.
    case failed(call: String, code: Int32)

    /// One line naming the call and its error code.
    public var description: String {
        switch self {
        case let .failed(call, code): return "MPI: \(call) failed with error code \(code)"
        }
    }
}

/// The ``RankCommunicator`` of a process started by `mpirun`: MPI_COMM_WORLD, float32 and byte messages cut
/// into pieces of at most 2^30 values (MPI counts are 32-bit).
public final class MPICommunicator: RankCommunicator {
    /// This process's rank.
    public let rank: Int
    /// Number of ranks.
    public let size: Int
    private static let piece = 1 << 30

    /// Initializes MPI (once per process).
    public init() throws {
        let code = swivel_mpi_init()
        guard code == 0 else { throw MPIError.failed(call: "MPI_Init_thread", code: code) }
        rank = Int(swivel_mpi_rank())
        size = Int(swivel_mpi_size())
    }

    /// Finalizes MPI; call once at the end.
    public func finish() { _ = swivel_mpi_finalize() }

    /// Ends every rank at once (after an error on one of them).
    public func abort(code: Int32) { swivel_mpi_abort(code) }

    private func check(_ code: Int32, _ call: String) throws {
        guard code == 0 else { throw MPIError.failed(call: call, code: code) }
    }

    /// Sends `outgoing` to `destination` while receiving `incoming` from `source` (non-blocking pieces).
    public func sendReceive(_ outgoing: UnsafeBufferPointer<Float>, to destination: Int,
                            _ incoming: UnsafeMutableBufferPointer<Float>, from source: Int) throws {
        try check(swivel_mpi_exchange_floats(outgoing.baseAddress, outgoing.count, Int32(destination),
                                             incoming.baseAddress, incoming.count, Int32(source), 1), "MPI_Isend/MPI_Irecv")
    }

    /// The sum of `value` over all ranks (MPI_Allreduce).
    public func sumAll(_ value: Double) throws -> Double {
        var v = value
        try check(swivel_mpi_sum_double(&v), "MPI_Allreduce")
        return v
    }

    /// Sends `buffer` to `destination` in pieces of at most 2^30 values (paired with ``receive(_:from:)``).
    public func send(_ buffer: UnsafeBufferPointer<Float>, to destination: Int) throws {
        for start in stride(from: 0, to: max(buffer.count, 1), by: Self.piece) {
            let end = min(start + Self.piece, buffer.count)
            try check(swivel_mpi_send_floats(buffer.baseAddress.map { $0 + start }, Int32(end - start), Int32(destination), 2),
                      "MPI_Send")
        }
    }

    /// Receives `buffer` from `source` in the pieces ``send(_:to:)`` cut.
    public func receive(_ buffer: UnsafeMutableBufferPointer<Float>, from source: Int) throws {
        for start in stride(from: 0, to: max(buffer.count, 1), by: Self.piece) {
            let end = min(start + Self.piece, buffer.count)
            try check(swivel_mpi_recv_floats(buffer.baseAddress.map { $0 + start }, Int32(end - start), Int32(source), 2),
                      "MPI_Recv")
        }
    }

    /// Sends a byte message (its length, then the bytes) to `destination`.
    public func sendBytes(_ bytes: [UInt8], to destination: Int) throws {
        try bytes.withUnsafeBufferPointer { buffer in
            try check(swivel_mpi_send_bytes(buffer.baseAddress, buffer.count, Int32(destination), 3),
                      "MPI_Isend/MPI_Waitall")
        }
    }

    /// Receives the next byte message from `source`.
    public func receiveBytes(from source: Int) throws -> [UInt8] {
        var length: Int64 = 0
        try check(swivel_mpi_recv_length(&length, Int32(source), 3), "MPI_Recv")
        var bytes = [UInt8](repeating: 0, count: Int(length))
        try bytes.withUnsafeMutableBufferPointer { buffer in
            try check(swivel_mpi_recv_bytes(buffer.baseAddress, buffer.count, Int32(source), 3), "MPI_Recv")
        }
        return bytes
    }

    /// Starts sending a byte message without blocking (MPI_Isend); the bytes are copied and kept until `wait()`.
    public func startSendingBytes(_ bytes: [UInt8], to destination: Int) throws -> PendingSend {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = copy.initialize(from: bytes)
        var code: Int32 = 0
        guard let request = swivel_mpi_isend_bytes(copy.baseAddress, bytes.count, Int32(destination), 3, &code) else {
            copy.deallocate()
            throw MPIError.failed(call: "MPI_Isend", code: code)
        }
        guard code == 0 else {
            // Pieces posted before the failure may still read the copy: leave it (and the requests) to the
            // abort that follows an error.
            throw MPIError.failed(call: "MPI_Isend", code: code)
        }
        return MPIPendingSend(request: request, buffer: copy)
    }
}

/// A byte message posted with MPI_Isend, with the copy of its bytes it must keep until sent. A send dropped
/// without `wait()` belongs to a failed exchange: waiting could block forever on a receiver that will never
/// post its receive, so its request and buffer are left to the abort that ends the process (no deinit).
final class MPIPendingSend: PendingSend {
    private var request: UnsafeMutablePointer<swivel_pending_send>?
    private let buffer: UnsafeMutableBufferPointer<UInt8>

    init(request: UnsafeMutablePointer<swivel_pending_send>, buffer: UnsafeMutableBufferPointer<UInt8>) {
        self.request = request
        self.buffer = buffer
    }

    func wait() throws {
        guard let request else { return }
        self.request = nil
        let code = swivel_mpi_wait_send(request)
        buffer.deallocate()
        guard code == 0 else { throw MPIError.failed(call: "MPI_Waitall", code: code) }
    }

}
#endif
