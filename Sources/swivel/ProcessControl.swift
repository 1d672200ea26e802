import ArgumentParser
import Foundation
import SwivelLinearAlgebra

/// `--keep-blas-kernel`, shared by every command that spends its time in BLAS.
struct BLASKernelOptions: ParsableArguments {
    @Flag(help: "Never re-launch to pick a faster OpenBLAS kernel.")
    var keepBlasKernel = false

    /// Re-launches with a faster OpenBLAS kernel unless `--keep-blas-kernel` was given.
    func relaunchIfSlow(quiet: Bool) {
        if !keepBlasKernel { BLASKernelRelaunch.relaunchIfSlow(quiet: quiet) }
    }
}

/// Re-launches the process with `OPENBLAS_CORETYPE` set when OpenBLAS chose a slower kernel than the CPU
/// supports. Never overrides a value the user or the environment set; never re-launches twice.
enum BLASKernelRelaunch {
    static func relaunchIfSlow(quiet: Bool) {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["SWIVEL_BLAS_RELAUNCHED"] == nil,
              let recommended = OpenBLASKernel.recommended() else { return }
        let loaded = BLAS.coreName
        guard OpenBLASKernel.isSlower(loaded, than: recommended) else { return }
        if !quiet {
            printError("swivel: OpenBLAS chose its \(loaded) kernel on a CPU that supports \(recommended); re-launching with OPENBLAS_CORETYPE=\(recommended) (set OPENBLAS_CORETYPE yourself or pass --keep-blas-kernel to keep it)")
        }
        setenv("OPENBLAS_CORETYPE", recommended, 1)
        setenv("SWIVEL_BLAS_RELAUNCHED", "1", 1)
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", &arguments)
        // execv only returns on failure: carry on with the slow kernel.
        unsetenv("OPENBLAS_CORETYPE")
        printError("swivel: re-launch failed (\(String(cString: strerror(errno)))); continuing with the \(loaded) kernel")
    }
}

/// Turns SIGINT and SIGTERM into a flag the trainer polls, so that it can write a checkpoint and stop.
/// A second signal ends the process at once.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var sources: [DispatchSourceSignal] = []

    /// Whether a stop was requested.
    var requested: Bool {
        lock.lock(); defer { lock.unlock() }
        return count > 0
    }

    /// Installs handlers for SIGINT and SIGTERM that call `action` with the number of signals so far.
    @discardableResult
    static func install(_ action: @escaping @Sendable (Int) -> Void) -> StopRequest {
        let request = StopRequest()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                request.lock.lock()
                request.count += 1
                let count = request.count
                request.lock.unlock()
                action(count)
            }
            source.resume()
            request.sources.append(source)
        }
        return request
    }

    /// Handlers for training: the first signal asks for a checkpoint and a stop, the second quits at once.
    static func install() -> StopRequest {
        install { count in
            if count > 1 { _exit(130) }
            printError("\nswivel: stopping after the current blocks and writing a checkpoint (again to quit at once)")
        }
    }
}


/// How `swivel` notices that an MPI launcher started it.
enum MPILaunch {
    /// True when `mpirun` (Open MPI) or a PMI/PMIx launcher such as Slurm's `srun` started more than one
    /// rank. In a build without the `MPI` trait that is an error, printed here (one line) and thrown: every
    /// rank would otherwise run the whole job and write the same files.
    static func startedWithSeveralRanks() throws -> Bool {
        let environment = ProcessInfo.processInfo.environment
        // PMIx alone does not say how many ranks; under Slurm's srun the step's task count does (never the
        // job's SLURM_NTASKS, which a plain command in a batch script also sees).
        let pmixTasks = environment["PMIX_RANK"] != nil ? environment["SLURM_STEP_NUM_TASKS"] : nil
        let counted = (environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] ?? pmixTasks).flatMap(Int.init)
        let ranks = counted ?? (environment["PMIX_RANK"] != nil ? 2 : nil)
        guard let ranks, ranks > 1 else { return false }
        #if !MPI
        printError("swivel: error: started by an MPI launcher (mpirun, srun) with \(counted.map(String.init) ?? "several") ranks, but this swivel was built without MPI; build it with 'swift build -c release --traits MPI' (needs Debian's libopenmpi-dev)")
        throw ExitCode(1)
        #else
        return true
        #endif
    }
}
