import Foundation
import SwivelConcurrency
import SwivelIO

/// Ranks of a distributed run played by threads of one process, for tests: messages go through mailboxes
/// (one queue per sender and receiver, so they arrive in order), `sumAll` waits for every rank.
public final class ThreadRanks: @unchecked Sendable {
    /// Number of ranks.
    public let size: Int
    private let condition = NSCondition()
    private var floatMail: [[Int: [[Float]]]]      // [to][from] -> queue
    private var byteMail: [[Int: [[UInt8]]]]
    private var sums: [Int: (count: Int, total: Double)] = [:]
    private var rounds: [Int]
    /// With `rendezvousSends`, how many byte messages each receiver has taken from each sender.
    private var takenBytes: [[Int]]
    private var postedBytes: [[Int]]
    private let rendezvousSends: Bool

    /// Ranks `0..<size`. With `rendezvousSends`, a started byte send completes only once its receiver has taken
    /// it (as MPI's large messages do), so ``PendingSend/wait()`` really waits.
    public init(size: Int, rendezvousSends: Bool = false) {
        self.size = size
        self.rendezvousSends = rendezvousSends
        takenBytes = Array(repeating: Array(repeating: 0, count: size), count: size)
        postedBytes = Array(repeating: Array(repeating: 0, count: size), count: size)
        floatMail = Array(repeating: [:], count: size)
        byteMail = Array(repeating: [:], count: size)
        rounds = Array(repeating: 0, count: size)
    }

    /// The communicator of rank `rank`.
    public func rank(_ rank: Int) -> Rank { Rank(self, rank) }

    /// Runs `body(rank)` on `size` threads (never a thread pool: ranks block on each other) and waits for all;
    /// returns each rank's result or error.
    public func run<T>(_ body: @escaping @Sendable (Rank) throws -> T) -> [Result<T, Error>] {
        nonisolated(unsafe) var results = [Result<T, Error>?](repeating: nil, count: size)
        let group = DispatchGroup()
        let lock = NSLock()
        for k in 0..<size {
            group.enter()
            let thread = Thread { [self] in
                let result = Result { try body(rank(k)) }
                lock.lock()
                results[k] = result
                lock.unlock()
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        return results.map { $0! }
    }

    private func postFloats(_ values: [Float], from: Int, to: Int) {
        condition.lock()
        floatMail[to][from, default: []].append(values)
        condition.broadcast()
        condition.unlock()
    }

    private func takeFloats(to: Int, from: Int) -> [Float] {
        condition.lock()
        defer { condition.unlock() }
        while floatMail[to][from]?.isEmpty ?? true { condition.wait() }
        return floatMail[to][from]!.removeFirst()
    }

    /// Posts a byte message and returns its serial number on the (from, to) channel.
    private func postBytes(_ bytes: [UInt8], from: Int, to: Int) -> Int {
        condition.lock()
        byteMail[to][from, default: []].append(bytes)
        postedBytes[from][to] += 1
        let serial = postedBytes[from][to]
        condition.broadcast()
        condition.unlock()
        return serial
    }

    private func takeBytes(to: Int, from: Int) -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while byteMail[to][from]?.isEmpty ?? true { condition.wait() }
        takenBytes[from][to] += 1
        condition.broadcast()
        return byteMail[to][from]!.removeFirst()
    }

    /// Waits until the receiver took message `serial` of the (from, to) channel.
    private func waitTaken(from: Int, to: Int, serial: Int) {
        condition.lock()
        defer { condition.unlock() }
        while takenBytes[from][to] < serial { condition.wait() }
    }

    /// A started send that completes when its receiver takes it.
    struct RendezvousSend: PendingSend {
        let ranks: ThreadRanks
        let from: Int, to: Int, serial: Int
        func wait() throws { ranks.waitTaken(from: from, to: to, serial: serial) }
    }

    private func sum(_ value: Double, rank: Int) -> Double {
        condition.lock()
        defer { condition.unlock() }
        let round = rounds[rank]
        rounds[rank] += 1
        var entry = sums[round] ?? (0, 0)
        entry.count += 1
        entry.total += value
        sums[round] = entry
        condition.broadcast()
        while sums[round]!.count < size { condition.wait() }
        return sums[round]!.total
    }

    /// One rank's view.
    public final class Rank: RankCommunicator {
        let ranks: ThreadRanks
        /// This rank.
        public let rank: Int
        /// Number of ranks.
        public var size: Int { ranks.size }
        init(_ ranks: ThreadRanks, _ rank: Int) { self.ranks = ranks; self.rank = rank }

        /// Posts `outgoing` to `destination`, then waits for what `source` posted.
        public func sendReceive(_ outgoing: UnsafeBufferPointer<Float>, to destination: Int,
                                _ incoming: UnsafeMutableBufferPointer<Float>, from source: Int) throws {
            ranks.postFloats(Array(outgoing), from: rank, to: destination)
            try receive(incoming, from: source)
        }
        /// Waits for every rank's value and returns the sum.
        public func sumAll(_ value: Double) throws -> Double { ranks.sum(value, rank: rank) }
        /// Posts a copy of `buffer` to `destination`.
        public func send(_ buffer: UnsafeBufferPointer<Float>, to destination: Int) throws {
            ranks.postFloats(Array(buffer), from: rank, to: destination)
        }
        /// Waits for the next float message from `source`.
        public func receive(_ buffer: UnsafeMutableBufferPointer<Float>, from source: Int) throws {
            let received = ranks.takeFloats(to: rank, from: source)
            precondition(received.count == buffer.count)
            for i in 0..<buffer.count { buffer[i] = received[i] }
        }
        /// Posts a byte message to `destination` (and, with rendezvous sends, waits until it is taken).
        public func sendBytes(_ bytes: [UInt8], to destination: Int) throws {
            let serial = ranks.postBytes(bytes, from: rank, to: destination)
            if ranks.rendezvousSends { ranks.waitTaken(from: rank, to: destination, serial: serial) }
        }
        /// Waits for the next byte message from `source`.
        public func receiveBytes(from source: Int) throws -> [UInt8] {
            ranks.takeBytes(to: rank, from: source)
        }
        /// Posts at once; the send completes at once, or (with rendezvous sends) when the receiver takes it.
        public func startSendingBytes(_ bytes: [UInt8], to destination: Int) throws -> PendingSend {
            let serial = ranks.postBytes(bytes, from: rank, to: destination)
            return ranks.rendezvousSends ? RendezvousSend(ranks: ranks, from: rank, to: destination, serial: serial)
                                         : CompletedSend()
        }
    }
}
