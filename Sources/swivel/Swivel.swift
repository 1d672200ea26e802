import ArgumentParser
import Foundation

/// The `swivel` command: prepare a corpus, train Swivel embeddings, export and query them.
@main
struct Swivel: ParsableCommand {
    /// The version printed by `swivel --version` and recorded in every manifest.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "swivel",
        abstract: "Train word (and feature) embeddings with Swivel (Shazeer et al. 2016).",
        discussion: """
            Typical use:
              swivel prep corpus.txt --output prep/
              swivel train prep/ --output model/
              swivel export model/ --output vectors.txt
              swivel nearest model/ king queen
            """,
        version: version,
        subcommands: [PrepCommand.self, TrainCommand.self, ExportCommand.self, NearestCommand.self, EvalCommand.self,
                      PlotCommand.self, BenchCommand.self])

    /// Entry point: ignore SIGXFSZ so that a file-size limit (`ulimit -f`) surfaces as a write error that
    /// names the file, instead of killing the process mid-write; then parse and run.
    static func main() {
        signal(SIGXFSZ, SIG_IGN)
        main(nil)
    }
}

/// Options every long-running subcommand shares.
struct OutputOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Print nothing but errors and the final summary.")
    var quiet = false
}
