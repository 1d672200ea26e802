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
