import ArgumentParser
import Foundation
import SwivelLinearAlgebra
import SwivelTraining

extension Swivel {
    struct BenchCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Measure SGEMM at Swivel's shapes and how close a training step comes to it.",
            discussion: """
                Prints the OpenBLAS build and kernel in use, the SGEMM rate of the three products of a step \
                (independent single-threaded workers, and one worker with all BLAS threads), then the rate of \
                whole training steps and their share of the SGEMM floor (SGEMM rate / 6d cells per second), and \
                the rate of the loss pass alone (the part of a step that is not SGEMM).

                Examples:
                  swivel bench
                  swivel bench --block 2048 --dim 100
                """)

        @Option(parsing: .unconditional, help: "Block size b (features per shard).")
        var block: Int = 4096

        @Option(parsing: .unconditional, help: "Embedding dimension d.")
        var dim: Int = 300

        @Option(parsing: .unconditional, help: "Workers (default: all cores).")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(parsing: .unconditional, help: "Share of observed cells in the synthetic blocks.")
        var density: Double = 0.03

        @Option(parsing: .unconditional, help: "Repetitions per measurement.")
        var repeats: Int = 5

        @OptionGroup var kernel: BLASKernelOptions

        func validate() throws {
            for (name, value, least) in [("--block", block, 8), ("--dim", dim, 1), ("--threads", threads, 1), ("--repeats", repeats, 1)]
            where value < least {
                throw ValidationError("\(name) must be at least \(least) (got \(value))")
            }
            if !(density >= 0) { throw ValidationError("--density must be at least 0 (got \(density))") }
            if density > 1 { throw ValidationError("--density must be at most 1 (got \(density))") }
        }

        func run() throws {
            try reportingErrors {
                try TrainingBenchmark.requireMemory(block: block, dimension: dim, workers: threads, density: density)
            }
            kernel.relaunchIfSlow(quiet: false)
            print("OpenBLAS: \(BLAS.configuration)")
            print("kernel: \(BLAS.coreName) (OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "<unset>"))")
            print("loss pass built for: \(TrainingBuild.cpuTarget)")
            let rates = TrainingBenchmark.sgemmRates(block: block, dimension: dim, workers: threads, repeats: repeats)
            for r in rates { print(String(format: "sgemm %@: %.1f GF/s", r.name as NSString, r.gigaflops ?? 0)) }
            // The floor uses the training plan's rate: independent workers, the mean of the three products.
            let plan = rates.prefix(3).compactMap(\.gigaflops)
            let sgemm = plan.reduce(0, +) / Double(plan.count)
            let step = TrainingBenchmark.stepRate(block: block, dimension: dim, workers: threads, density: density, repeats: repeats)
            let floor = sgemm * 1e9 / (6 * Double(dim))
            print(String(format: "%@: %.1fM cells/s (%.1f GF/s of SGEMM work)", step.name as NSString,
                         (step.cellsPerSecond ?? 0) / 1e6, step.gigaflops ?? 0))
            print(String(format: "floor at %.1f GF/s: %.1fM cells/s; the step reaches %.0f%% of it",
                         sgemm, floor / 1e6, 100 * (step.cellsPerSecond ?? 0) / floor))
            let pass = TrainingBenchmark.lossPassRate(block: block, workers: threads, density: density, repeats: repeats)
            print(String(format: "%@: %.1fM cells/s", pass.name as NSString, (pass.cellsPerSecond ?? 0) / 1e6))
        }
    }
}
