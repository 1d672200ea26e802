/// What one rank of a distributed run (prep or training) needs from the message-passing layer: MPI in
/// `swivel` built with the `MPI` trait, threads standing in for ranks in tests. Ranks are `0..<size`; every
/// call is collective or paired as documented.
public protocol RankCommunicator: AnyObject {
    /// This process's rank.
    var rank: Int { get }
    /// Number of ranks.
    var size: Int { get }
    /// Sends `outgoing` to `destination` and at the same time fills `incoming` with what `source` sends
    /// (the lengths may differ; each side knows both).
    func sendReceive(_ outgoing: UnsafeBufferPointer<Float>, to destination: Int,
                     _ incoming: UnsafeMutableBufferPointer<Float>, from source: Int) throws
    /// The sum of `value` over all ranks, on every rank.
    func sumAll(_ value: Double) throws -> Double
    /// Sends `buffer` to rank `destination` (paired with its ``receive(_:from:)``).
    func send(_ buffer: UnsafeBufferPointer<Float>, to destination: Int) throws
    /// Receives into `buffer` from rank `source`.
    func receive(_ buffer: UnsafeMutableBufferPointer<Float>, from source: Int) throws
    /// Sends a byte message of any length to `destination` (paired with its ``receiveBytes(from:)``);
    /// messages between two ranks arrive in the order they were sent.
    func sendBytes(_ bytes: [UInt8], to destination: Int) throws
    /// Receives the next byte message from `source`.
    func receiveBytes(from source: Int) throws -> [UInt8]
    /// Starts sending a byte message to `destination` and returns at once; the message is in order with
    /// every other byte message to `destination`. Call `wait()` on the result before relying on delivery.
    func startSendingBytes(_ bytes: [UInt8], to destination: Int) throws -> PendingSend
}

/// A byte message on its way (see ``RankCommunicator/startSendingBytes(_:to:)``).
public protocol PendingSend {
    /// Returns once the message has left (its buffer is no longer needed).
    func wait() throws
}

/// A message that was sent before it was returned.
public struct CompletedSend: PendingSend {
    /// Creates a completed send.
    public init() {}
    /// Returns at once.
    public func wait() throws {}
}

extension RankCommunicator {
    /// Rank 0's `bytes` on every rank (the others pass anything, e.g. `[]`).
    public func broadcastBytes(_ bytes: [UInt8]) throws -> [UInt8] {
        if rank == 0 {
            for r in 1..<max(size, 1) { try sendBytes(bytes, to: r) }
            return bytes
        }
        return try receiveBytes(from: 0)
    }

    /// Every rank's `bytes` on rank 0, in rank order (an empty array on the other ranks).
    public func gatherBytes(_ bytes: [UInt8]) throws -> [[UInt8]] {
        if rank != 0 {
            try sendBytes(bytes, to: 0)
            return []
        }
        return try [bytes] + (1..<max(size, 1)).map { try receiveBytes(from: $0) }
    }

    /// Returns when every rank has called it.
    public func barrier() throws { _ = try sumAll(0) }
}
