// FedCommandLine: dispatches `fednoise` subcommands and turns errors into messages and exit codes.
import FedData
import FedNN
import FedRuntime
import FedTensor
import Foundation

public enum FedCommandLine {
    static let help = """
    fednoise: private federated learning in Swift.

    USAGE: fednoise [COMMAND] [options]

    COMMANDS:
      (none)      the main job: FedAvg, DP-FedAvg and NISS, CNN, on the embedded MNIST subset (under a minute)
      run         run a federation from a config file (config/*.json); per-round metrics and result files
      serve       the parameter server and tracker of a federation whose clients join over TLS (or --insecure TCP)
      join        host a range of a served federation's clients in this process
      certs       a CA and certificates for a federation's hub and nodes (TLS for serve, join)
      sweep       the NISS experiment: one federation per X = τ², a table and a plot of accuracy per round
      attack      DLG gradient leakage: what a curious server reconstructs from each strategy's uploads
      privacy     ε for a noise multiplier, or the noise multiplier for a target ε (RDP accountant)
      train       train one model centrally; per-epoch metrics and result files
      paradox     the noise-infusion study: mechanisms × levels × CNNs × {centralized, federated}; PoS/PoA, MIA
      plot        overlay one column of several result CSVs (runs, references) in one SVG chart
      fairness    the synthetic DP-SGD fairness and robustness study (two-layer ReLU CNN): CSVs, plots, claims
      robust      clean and FGSM/PGD robust accuracy and adversarial loss of saved weights per budget ε
      bench       measure GEMM GFLOPS, training throughput and noise generation; prints a table, writes JSON
      mpi-check   under mpirun: the MPI transport across ranks, broadcast and upload GB/s (needs --traits MPI)
      help        show this help

    Run 'fednoise COMMAND --help' for a command's options.
    """

    static let commands: Set<String> = ["serve", "join", "run", "sweep", "attack", "privacy", "train", "bench", "plot",
                                         "paradox", "fairness", "mpi-check", "certs", "robust"]

    /// Runs the command line and returns the process exit status (0 ok, 1 failure, 2 usage error, 130/143 a run
    /// interrupted by SIGINT/SIGTERM after writing its results and checkpoint).
    public static func run(_ arguments: [String]) async -> Int32 {
        await run(arguments, environment: ProcessInfo.processInfo.environment)
    }

    /// `run` with the environment given (tests check `FEDNOISE_THREADS` without changing the process's).
    public static func run(_ arguments: [String], environment: [String: String]) async -> Int32 {
        do {
            if !["help", "--help", "-h"].contains(arguments.first ?? "") {
                do {
                    _ = try ComputeThreads.fromEnvironment(environment)
                } catch {
                    throw UsageError(error.description)
                }
            }
            guard let command = arguments.first else {
                try await MainJob.run()
                return 0
            }
            let rest = Array(arguments.dropFirst())
            switch command {
            case "run": try await RunCommand.run(rest)
            case "serve": try await ServeCommand.run(rest)
            case "join": try await JoinCommand.run(rest)
            case "certs": try CertsCommand.run(rest)
            case "sweep": try await SweepCommand.run(rest)
            case "attack": try AttackCommand.run(rest)
            case "privacy": try PrivacyCommand.run(rest)
            case "train": try TrainCommand.run(rest)
            case "paradox": try await ParadoxCommand.run(rest)
            case "bench": try await BenchCommand.run(rest)
            case "plot": try PlotCommand.run(rest)
            case "fairness": try FairnessCommand.run(rest)
            case "robust": try RobustCommand.run(rest)
            case "mpi-check": try await MPICheckCommand.run(rest)
            case "help", "--help", "-h": say(help)
            default:
                throw UsageError(
                    "unknown command '\(command)' (commands: run, serve, join, sweep, attack, privacy, train, paradox, "
                        + "bench, plot, fairness, robust, mpi-check, help)")
            }
            return 0
        } catch let error as UsageError {
            let command = arguments.first.flatMap { commands.contains($0) ? $0 : nil }
            let hint = command.map { "fednoise \($0) --help" } ?? "fednoise help"
            writeError("fednoise: \(error.description)\nRun '\(hint)' for usage.\n")
            return 2
        } catch let error as DataError {
            writeError("fednoise: \(error.description)\n")
            return 1
        } catch let error as ConfigurationError {
            writeError("fednoise: \(error.description)\n")
            return 2
        } catch let error as ShapeError {
            writeError("fednoise: model does not fit the data: \(error.description)\n")
            return 1
        } catch let error as RunInterrupted {
            writeError("fednoise: \(error.description)\n")
            return error.status
        } catch let error as RunFailure {
            writeError("fednoise: \(error.description)\n")
            return 1
        } catch let error as NSError where error.domain == NSCocoaErrorDomain || error.domain == NSPOSIXErrorDomain {
            // Filesystem trouble while writing results: in words, with the file, not an NSError dump.
            let file = OutputPlace.path(of: error).map { " \($0)" } ?? ""
            writeError("fednoise: cannot write\(file): \(OutputPlace.reason(error))\n")
            return 1
        } catch {
            writeError("fednoise: \(error)\n")
            return 1
        }
    }

    public static func main(_ arguments: [String]) async {
        MemoryPolicy.apply()
        exit(await run(arguments))
    }
}
