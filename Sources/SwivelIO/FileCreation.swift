import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Orders this process's file creation against the removal of a partial output on Ctrl-C or SIGTERM.
///
/// Worker threads keep writing while a signal handler removes what a run wrote; a file they create or rename
/// into place after the removal would be left behind. Every creation (`open` with `O_CREAT`, `rename`,
/// `mkdir`) of swivel's outputs and temporary files goes through ``gate(_:)``; a handler calls
/// ``stopForCleanup()`` first, after which no creation starts again (the threads that try wait until the
/// handler ends the process), then removes the files and exits.
public enum FileCreation {
    /// True once ``stopForCleanup()`` ran.
    private static let stopped = Mutex(false)

    /// Runs `body`, a system call that creates or renames a file or directory, unless file creation has
    /// stopped for good: then it waits until the process exits.
    @inline(__always)
    public static func gate<T>(_ body: () -> T) -> T {
        stopped.withLock { stopped in
            while stopped { pause() }
            return body()
        }
    }

    /// Waits for a creation in progress, then stops every later one. The caller must end the process
    /// (`_exit`) once it has cleaned up: threads that try to create a file wait forever.
    public static func stopForCleanup() {
        stopped.withLock { $0 = true }
    }
}
