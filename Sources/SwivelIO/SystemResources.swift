#if canImport(Glibc)
import Glibc
#endif

/// Free disk space and memory, so that long jobs can refuse early with a clear message instead of
/// failing half-way.
public enum SystemResources {
    /// Bytes available to an unprivileged user on the file system holding `path`, or nil if unknown.
    public static func availableDiskBytes(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// Throws `FileError.diskFull` unless the file system holding `directory` has `needed` bytes free.
    ///
    /// - Parameter purpose: what the space is for, for the message ("temporary counts", "shards").
    public static func requireDiskSpace(_ needed: Int64, in directory: String, for purpose: String) throws {
        guard let free = availableDiskBytes(at: directory) else { return }
        if free < needed {
            throw FileError.diskFull(path: directory, purpose: purpose, needed: needed, available: free)
        }
    }

    /// The memory the kernel says is available without swapping (`MemAvailable`), in bytes, or nil.
    public static func availableMemoryBytes() -> Int64? {
        guard let text = try? FileReader.readText("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int64(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// Throws ``ResourceError/insufficientMemory(purpose:needed:available:hint:)`` when `needed` bytes exceed
    /// the memory available now: the one check before every allocation sized by options or file contents, so
    /// that a run too large for the machine stops with a message instead of trapping in the allocator.
    ///
    /// - Parameters:
    ///   - purpose: what the memory is for ("training 54436 x 54436 at dimension 300").
    ///   - hint: which option would lower it ("lower --dim, or --max-vocab in swivel prep").
    public static func requireMemory(_ needed: Int64, for purpose: String, hint: String) throws {
        guard needed > 0 else { return }
        let available = availableMemoryBytes() ?? Int64.max
        if needed > available {
            throw ResourceError.insufficientMemory(purpose: purpose, needed: needed, available: available, hint: hint)
        }
    }

    /// `count * size` in bytes, saturating at `Int64.max` instead of trapping on overflow (sizes from options).
    public static func bytes(_ count: Int, times size: Int) -> Int64 {
        count < 0 || size < 0 ? Int64.max : saturating(Int64(count), times: Int64(size))
    }

    /// `a * b` for non-negative sizes, `Int64.max` on overflow.
    public static func saturating(_ a: Int64, times b: Int64) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int64.max : product
    }

    /// `a + b` for non-negative sizes, `Int64.max` on overflow.
    public static func saturating(_ a: Int64, plus b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int64.max : sum
    }

    /// Peak resident set size of this process so far (`VmHWM`), in bytes, or nil.
    public static func peakResidentBytes() -> Int64? {
        guard let text = try? FileReader.readText("/proc/self/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kib = Int64(fields[1]) { return kib * 1024 }
        }
        return nil
    }

    /// `bytes` as a short human figure ("1.5 GiB", "12.0 MiB").
    public static func describe(bytes: Int64) -> String {
        let b = Double(bytes)
        if b >= Double(1 << 30) { return String(format1: b / Double(1 << 30)) + " GiB" }
        if b >= Double(1 << 20) { return String(format1: b / Double(1 << 20)) + " MiB" }
        if b >= Double(1 << 10) { return String(format1: b / Double(1 << 10)) + " KiB" }
        return "\(bytes) bytes"
    }
}

extension String {
    /// `value` with one decimal, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}

/// A machine resource too small for what a run asks.
public enum ResourceError: Error, CustomStringConvertible, Equatable {
    /// An allocation of `needed` bytes for `purpose` exceeds the `available` memory.
    case insufficientMemory(purpose: String, needed: Int64, available: Int64, hint: String)

    /// A one-line message with the bytes needed and the option to lower.
    public var description: String {
        switch self {
        case let .insufficientMemory(purpose, needed, available, hint):
            let need = needed == Int64.max ? "more than 2^63 bytes" : "about \(SystemResources.describe(bytes: needed))"
            return "not enough memory for \(purpose): \(need) needed, \(SystemResources.describe(bytes: available)) available; \(hint)"
        }
    }
}
