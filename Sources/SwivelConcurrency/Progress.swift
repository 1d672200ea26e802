import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A snapshot of a long job's progress, handed by library code to whoever displays it.
public struct ProgressUpdate: Sendable {
    /// What the job is doing now ("counting", "epoch 3/20", ...).
    public var phase: String
    /// Units done so far in this phase.
    public var done: Double
    /// Units in the whole phase, when known.
    public var total: Double?
    /// The unit counted ("tokens", "blocks", ...).
    public var unit: String
    /// Extra text to show (for example the current loss).
    public var detail: String

    /// Creates an update.
    public init(phase: String, done: Double, total: Double?, unit: String, detail: String = "") {
        self.phase = phase
        self.done = done
        self.total = total
        self.unit = unit
        self.detail = detail
    }
}

/// Receives progress updates from library code. Libraries never print; the CLI decides what to show.
public typealias ProgressHandler = @Sendable (ProgressUpdate) -> Void

/// Monotonic seconds since an arbitrary origin, for measuring durations.
public func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
