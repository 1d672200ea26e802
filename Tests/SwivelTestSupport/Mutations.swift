import Foundation

/// Seeded mutations of valid files, to check that readers reject damage with errors instead of crashing.
///
/// Each mutation applies one to four edits: flip a bit, set a byte to an extreme value, truncate, cut out or
/// duplicate a run of bytes, or overwrite four bytes with a large little-endian integer (to hit size fields).
/// The number of mutations per seed file is `SWIVEL_FUZZ_ITERATIONS` (default `defaultCount`), so
/// `Scripts/fuzz.sh` can run the same tests for longer; `SWIVEL_FUZZ_SEED` varies the seeds, and
/// `SWIVEL_FUZZ_SAVE=DIR` writes each input to `DIR/NAME.input` before it is tried.
public struct Mutations: Sequence, IteratorProtocol {
    private var state: UInt64
    private let original: [UInt8]
    private var remaining: Int
    private let saveDirectory: String?
    private let name: String

    /// Mutations of `original` from `seed`; `name` tells the saved input of this reader from others'.
    public init(of original: [UInt8], seed: UInt64, defaultCount: Int, name: String) {
        self.name = name
        self.original = original
        let extra = ProcessInfo.processInfo.environment["SWIVEL_FUZZ_SEED"].flatMap(UInt64.init) ?? 0
        state = (seed ^ (extra &* 0xD1B5_4A32_D192_ED03)) &* 0x9E37_79B9_7F4A_7C15 | 1
        saveDirectory = ProcessInfo.processInfo.environment["SWIVEL_FUZZ_SAVE"]
        remaining = ProcessInfo.processInfo.environment["SWIVEL_FUZZ_ITERATIONS"].flatMap(Int.init) ?? defaultCount
    }

    private mutating func random(_ bound: Int) -> Int {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return bound <= 0 ? 0 : Int(state % UInt64(bound))
    }

    /// The next mutated copy, or nil when done.
    public mutating func next() -> [UInt8]? {
        guard remaining > 0 else { return nil }
        remaining -= 1
        var bytes = original
        for _ in 0...random(4) {
            guard !bytes.isEmpty else { break }
            let at = random(bytes.count)
            switch random(6) {
            case 0: bytes[at] ^= UInt8(1 << random(8))
            case 1: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][random(4)]
            case 2: bytes.removeLast(bytes.count - at)
            case 3: bytes.removeSubrange(at..<Swift.min(bytes.count, at + 1 + random(16)))
            case 4: bytes.insert(contentsOf: bytes[at..<Swift.min(bytes.count, at + 1 + random(32))], at: at)
            default:
                let big: [UInt32] = [0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x0100_0000, 0]
                let v = big[random(big.count)]
                for k in 0..<4 where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            }
        }
        if let saveDirectory {
            // Written before the reader sees it: if the reader crashes, this file is the crashing input.
            _ = FileManager.default.createFile(atPath: saveDirectory + "/\(name).input", contents: Data(bytes))
        }
        return bytes
    }
}
