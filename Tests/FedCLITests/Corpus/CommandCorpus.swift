// CommandCorpus: bad flags of sweep, privacy, train and bench, unknown commands, and a bad FEDNOISE_THREADS.
import Foundation

extension CorpusCase {
    static var sweep: [CorpusCase] {
        let smoke = "$CONFIG/smoke.json"
        var c: [CorpusCase] = []
        for list in ["", "a", "-1", "1e7", "nan", "inf", "0.5,0.50", "0,0", ",", "1,,2", "0;1"] {
            c.append(command(["sweep", smoke, "--tau2", list, "--set", "output=$DIR/s"], mentions: ["--tau2"]))
        }
        c += [
            command(["sweep"], mentions: ["config file"]),
            command(["sweep", smoke, "--threads", "0"], mentions: ["--threads"]),
            command(["sweep", smoke, "--bogus"], mentions: ["--bogus"]),
            command(["sweep", smoke, "--replot=yes"], mentions: ["--replot"]),
            command(["sweep", smoke, "--set", "rounds=0"], mentions: ["--set rounds=0", "rounds"]),
            command(["sweep", smoke, "--set", "strategy.niss.tau2=1e300"], mentions: ["strategy.niss.tau2"]),
            command(["sweep", smoke, "--set", "clients.fraction=0.1"], mentions: ["clients.fraction"]),
            command(["sweep", smoke, "--set", "output=$DIR/f"], files: ["f": Data("x")],
                    mentions: ["output", "is a file"], name: "sweep output is a file"),
            command(["sweep", smoke, "--replot", "--set", "output=$DIR/s"], mentions: ["summary.json"],
                    name: "sweep --replot of nothing"),
            command(["sweep", smoke, "--replot", "--tau2", "0", "--set", "output=$DIR/s"],
                    files: ["s/X=0/summary.json": Data(#"{"summary": 3}"#)],
                    mentions: ["X=0/summary.json", "not a run summary"], name: "sweep --replot of a bad summary"),
        ]
        return c
    }

    static var privacy: [CorpusCase] {
        func p(_ args: [String], _ mentions: [String]) -> CorpusCase { command(["privacy"] + args, mentions: mentions) }
        let rate = ["--sample-rate", "0.1", "--steps", "10"]
        return [
            p([], ["--sample-rate"]),
            p(["--noise-multiplier", "1"], ["--sample-rate"]),
            p(["--noise-multiplier", "1", "--sample-rate", "2", "--steps", "10"], ["--sample-rate"]),
            p(["--noise-multiplier", "1", "--sample-rate", "-1", "--steps", "10"], ["--sample-rate"]),
            p(["--noise-multiplier", "1", "--sample-rate", "nan", "--steps", "10"], ["--sample-rate"]),
            p(["--noise-multiplier", "1", "--sample-rate", "0.1", "--steps", "0"], ["--steps"]),
            p(["--noise-multiplier", "1", "--sample-rate", "0.1", "--steps", "1.5"], ["--steps"]),
            p(["--noise-multiplier", "-1"] + rate, ["--noise-multiplier"]),
            p(["--noise-multiplier", "inf"] + rate, ["--noise-multiplier"]),
            p(["--noise-multiplier", "1", "--target-epsilon", "1"] + rate, ["--noise-multiplier", "--target-epsilon"]),
            p(rate, ["--noise-multiplier", "--target-epsilon"]),
            p(["--noise-multiplier", "1", "--delta", "0"] + rate, ["--delta"]),
            p(["--noise-multiplier", "1", "--delta", "1"] + rate, ["--delta"]),
            p(["--target-epsilon", "0"] + rate, ["--target-epsilon"]),
            p(["--target-epsilon", "1e-9"] + rate, ["--target-epsilon", "unreachable"]),
            p(["--target-epsilon", "1e10"] + rate, ["--target-epsilon"]),
            p(["--gaussian"], ["--epsilon", "--sensitivity"]),
            p(["--gaussian", "--epsilon", "1"], ["--sensitivity"]),
            p(["--gaussian", "--epsilon", "0", "--sensitivity", "1"], ["--epsilon"]),
            p(["--gaussian", "--epsilon", "1", "--sensitivity", "0"], ["--sensitivity"]),
            p(["--gaussian", "--epsilon", "1e-9", "--sensitivity", "1e300"], ["--sensitivity", "--epsilon"]),
            p(["--gaussian=maybe", "--epsilon", "1", "--sensitivity", "1"], ["--gaussian"]),
            p(["--gaussian", "--epsilon", "1", "--sensitivity", "1", "--steps", "3"], ["--steps"]),
            p(["--noise-multiplier", "1", "--frob", "2"] + rate, ["--frob"]),
        ]
    }

    static var train: [CorpusCase] {
        func t(_ args: [String], _ mentions: [String], files: [String: Data] = [:], status: Int32 = 2) -> CorpusCase {
            let shown = files.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))" }
            return command(["train", "--output", "$DIR/t"] + args, files: files, status: status, mentions: mentions,
                           name: (["train"] + args + shown).joined(separator: " "))
        }
        var c: [CorpusCase] = []
        let bad: [(String, [String])] = [
            ("--epochs", ["0", "10001", "-1", "x"]), ("--batch-size", ["0", "65537", "2000000000000000000", "1.5"]),
            ("--lr", ["0", "-1", "1e30", "nan", "inf", "1001"]), ("--momentum", ["1", "-0.5"]),
            ("--weight-decay", ["-1", "1e9"]), ("--lr-decay", ["0", "2"]), ("--seed", ["-1", "x"]),
            ("--model", ["resnet"]), ("--init", ["x"]), ("--dataset", ["imagenet", "cifar10"]),
            ("--train-limit", ["0"]), ("--test-limit", ["-1"]), ("--threads", ["0", "5000"]),
        ]
        for (flag, values) in bad { for v in values { c.append(t([flag, v], [flag])) } }
        c += [
            t(["--data", "$DIR/none"], ["none"], status: 1),
            t(["--data", "$DIR/f"], ["f"], files: ["f": Data("x")], status: 1),
            t(["--data", ""], ["--data"]),
            t(["--config", "$DIR/none.json"], ["none.json"]),
            t(["--config", "$DIR/c.json"], ["c.json", "not valid JSON"], files: ["c.json": Data("{")]),
            t(["--config", "$DIR/c.json"], ["c.json", "epoch"], files: ["c.json": Data(#"{"epoch": 3}"#)]),
            t(["--config", "$DIR/c.json"], ["c.json", "epochs"], files: ["c.json": Data(#"{"epochs": 2.5}"#)]),
            t(["--config", "$DIR/c.json"], ["c.json", "seed"], files: ["c.json": Data(#"{"seed": -1}"#)]),
            t(["--config", "$DIR/c.json"], ["c.json", "batchSize"], files: ["c.json": Data(#"{"batchSize": 0}"#)]),
            t(["--allow-divergence=1"], ["--allow-divergence"]),
            t(["--frob"], ["--frob"]),
            t(["extra"], ["extra"]),
            command(["train", "--output", "--epochs", "1"], mentions: ["--output needs a value"]),
            command(["train", "--output"], mentions: ["--output needs a value"]),
            command(["train", "--output", ""], mentions: ["--output", "empty"]),
            command(["train", "--output", "$DIR/f"], files: ["f": Data("x")], mentions: ["output", "is a file"]),
            command(["train", "--output", "$DIR/f/x"], files: ["f": Data("x")], mentions: ["output", "not a folder"]),
        ]
        return c
    }

    static var bench: [CorpusCase] {
        func b(_ args: [String], _ mentions: [String]) -> CorpusCase { command(["bench"] + args, mentions: mentions) }
        return [
            b(["--threads", "0"], ["--threads"]), b(["--threads", "abc"], ["--threads"]),
            b(["--threads", "2000"], ["--threads"]), b(["--threads", ""], ["--threads"]),
            b(["--threads", "1,,2"], ["--threads"]), b(["--model", "cnn"], ["--model", "--layers"]),
            b(["--batch-size", "10"], ["--batch-size", "--layers"]), b(["--layers", "--batch-size", "0"], ["--batch-size"]),
            b(["--layers", "--batch-size", "100000000"], ["--batch-size"]), b(["--layers", "--model", "resnet"], ["--model"]),
            b(["--layers", "--quick"], ["--quick"]), b(["--json", "$DIR/f/x.json", "--quick"], ["--json", "is a file"])
                .with(files: ["f": Data("x")]),
            b(["--json", "$DIR", "--quick"], ["--json", "is a folder"]), b(["--frob"], ["--frob"]),
            b(["--layers", "--threads", "0"], ["--threads"]), b(["extra"], ["extra"]),
            b(["--noise", "--steps", "0"], ["--steps"]), b(["--noise", "--steps", "10001"], ["--steps"]),
            b(["--noise", "--pgd"], ["--noise", "--pgd"]), b(["--steps", "5"], ["--steps"]),
            b(["--noise", "--model", "resnet"], ["--model"]), b(["--noise", "--batch-size", "0"], ["--batch-size"]),
            b(["--noise", "--cases", "xyz"], ["--cases", "'xyz'"]), b(["--noise", "--cases", "M2,,M3"], ["--cases"]),
            b(["--noise", "--cases", "none"], ["--cases", "none"]), b(["--cases", "M2"], ["--cases"]),
            b(["--broadcast", "--clients", "0"], ["--clients"]), b(["--broadcast", "--repeats", "101"], ["--repeats"]),
            b(["--broadcast", "--megabytes", "600"], ["--megabytes"]), b(["--broadcast", "--links", "65"], ["--links"]),
            b(["--broadcast", "--tls", "--plaintext"], ["--tls", "--plaintext"]),
            b(["--broadcast", "--clients", "2", "--links", "3"], ["--links", "--clients"]),
            b(["--broadcast", "--clients", "256", "--megabytes", "100"], ["--clients × --megabytes"]),
        ]
    }

    /// mpi-check's and run's MPI bounds are checked before MPI is needed, so a build without the trait refuses them too.
    static var mpiCheck: [CorpusCase] {
        [
            command(["mpi-check", "--messages", "0"], mentions: ["--messages"]),
            command(["mpi-check", "--megabytes", "5000"], mentions: ["--megabytes"]),
            command(["mpi-check", "--repeats", "1001"], mentions: ["--repeats"]),
            command(["mpi-check", "--megabytes", "100", "--repeats", "100"], mentions: ["--megabytes × --repeats"],
                    name: "mpi-check with 10 GB in flight"),
            command(["mpi-check", "--timeout", "0"], mentions: ["--timeout"]),
            command(["mpi-check", "--bogus"], mentions: ["--bogus"]),
            command(["run", "$CONFIG/smoke.json", "--rank-timeout", "5", "--set", "output=$DIR/o"],
                    mentions: ["--rank-timeout", "--transport mpi"], name: "run --rank-timeout without MPI"),
            command(["run", "$CONFIG/smoke.json", "--transport", "mpi", "--rank-timeout", "1"],
                    mentions: ["--rank-timeout"], name: "run --rank-timeout below 2 s"),
        ]
    }

    static var topLevel: [CorpusCase] {
        var c = [
            command(["bogus"], mentions: ["unknown command 'bogus'"]),
            command(["--version"], mentions: ["unknown command '--version'"]),
            command(["RUN"], mentions: ["unknown command 'RUN'"]),
        ]
        // FEDNOISE_THREADS is checked for every command, before anything runs.
        for value in ["abc", "0", "-3", "1.5", "", " ", "99999", "2x", "0x10"] {
            for args in [["privacy", "--noise-multiplier", "1", "--sample-rate", "0.1", "--steps", "10"],
                         ["run", "$CONFIG/smoke.json", "--set", "rounds=1", "--set", "output=$DIR/o"],
                         ["train", "--epochs", "1", "--output", "$DIR/o"]] {
                c.append(command(args, env: ["FEDNOISE_THREADS": value], mentions: ["FEDNOISE_THREADS"],
                                 name: "\(args[0]) with FEDNOISE_THREADS='\(value)'"))
            }
        }
        return c
    }
}
