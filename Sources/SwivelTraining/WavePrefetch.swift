import Dispatch
import SwivelShards

/// Decodes the blocks of the next wave on a background queue while the current wave trains, for a trainer whose
/// decoded blocks do not fit in memory: only two waves' blocks are decoded at any time.
final class WavePrefetch: @unchecked Sendable {
    private let load: @Sendable ([BlockSchedule.Block]) throws -> [TrainingBlock]
    private let queue = DispatchQueue(label: "swivel.wave-prefetch")
    private let group = DispatchGroup()
    /// The wave being decoded ahead and its result; written on `queue`, read after `group.wait()`.
    private var ahead: (wave: [BlockSchedule.Block], result: Result<[TrainingBlock], Error>?)?

    /// A prefetcher that decodes a wave's blocks with `load`.
    init(load: @escaping @Sendable ([BlockSchedule.Block]) throws -> [TrainingBlock]) {
        self.load = load
    }

    /// The blocks of `wave` (decoded ahead when it was the `next` of the call before, else now), and starts
    /// decoding `next` in the background; throws the decoding error of `wave` without starting `next`.
    func blocks(_ wave: [BlockSchedule.Block], next: [BlockSchedule.Block]?) throws -> [TrainingBlock] {
        group.wait()
        let decoded: [TrainingBlock]
        if let ahead, ahead.wave == wave, let result = ahead.result {
            decoded = try result.get()
        } else {
            decoded = try load(wave)
        }
        ahead = nil
        if let next {
            ahead = (next, nil)
            group.enter()
            queue.async {
                let result = Result { try self.load(next) }
                self.ahead?.result = result
                self.group.leave()
            }
        }
        return decoded
    }

    /// Waits for the wave being decoded ahead, if any (its blocks are dropped when no call takes them).
    func finish() { group.wait() }
}
