// FileCorpus: corrupt dataset files (IDX, gzip) for run and train, bad CSVs for plot, and runs that must fail.
import FedTestKit
import Foundation

extension CorpusCase {
    /// A valid MNIST-style folder of 20 train and 10 test 28×28 images, as name → bytes.
    static func mnistFiles(train: Int = 20, test: Int = 10) -> [String: [UInt8]] {
        [
            "train-images-idx3-ubyte": DataFixtures.idxImages(count: train),
            "train-labels-idx1-ubyte": DataFixtures.idxLabels((0..<train).map { UInt8($0 % 10) }),
            "t10k-images-idx3-ubyte": DataFixtures.idxImages(count: test),
            "t10k-labels-idx1-ubyte": DataFixtures.idxLabels((0..<test).map { UInt8($0 % 10) }),
        ]
    }

    /// Each corruption of one file of an otherwise valid folder, with what the error must name.
    static var corruptions: [(name: String, files: [String: [UInt8]], mentions: [String])] {
        let images = "train-images-idx3-ubyte", labels = "train-labels-idx1-ubyte"
        func with(_ change: (inout [String: [UInt8]]) -> Void) -> [String: [UInt8]] {
            var f = mnistFiles()
            change(&f)
            return f
        }
        let good = mnistFiles()[images]!
        let gz = DataFixtures.gzip(good)
        return [
            ("images missing", with { $0[images] = nil }, [images]),
            ("images empty", with { $0[images] = [] }, [images]),
            ("images header cut", with { $0[images] = [0, 0] }, [images]),
            ("images bad magic", with { $0[images]![0] = 7 }, [images]),
            ("images float type", with { $0[images]![2] = 0x0D }, [images]),
            ("images rank 1", with { $0[images] = DataFixtures.idx(dimensions: [20], payload: [UInt8](repeating: 0, count: 20)) },
             [images]),
            ("images payload cut", with { $0[images] = Array(good.prefix(good.count - 100)) }, [images]),
            ("images extra bytes", with { $0[images] = good + [1, 2, 3] }, [images]),
            ("images count 2^31", with {
                $0[images] = DataFixtures.idx(dimensions: [1 << 31 - 1, 28, 28], payload: [1, 2, 3])
            }, [images]),
            ("images zero", with { $0[images] = DataFixtures.idxImages(count: 0) }, [images]),
            ("labels rank 3", with { $0[labels] = DataFixtures.idx(dimensions: [20, 1, 1], payload: [UInt8](repeating: 1, count: 20)) },
             [labels]),
            ("labels too few", with { $0[labels] = DataFixtures.idxLabels([1, 2, 3]) }, ["labels"]),
            ("labels payload cut", with { $0[labels] = Array($0[labels]!.prefix(10)) }, [labels]),
            ("gzip corrupt", with { $0[images] = nil; $0[images + ".gz"] = Array(gz.prefix(10)) + [UInt8](repeating: 0xAB, count: 50) },
             [images + ".gz"]),
            ("gzip truncated", with { $0[images] = nil; $0[images + ".gz"] = Array(gz.prefix(gz.count / 2)) },
             [images + ".gz"]),
            ("gzip of garbage", with { $0[images] = nil; $0[images + ".gz"] = DataFixtures.gzip(Array("hello".utf8)) },
             [images + ".gz"]),
            ("gzip header only", with { $0[images] = nil; $0[images + ".gz"] = [0x1F, 0x8B] }, [images + ".gz"]),
        ]
    }

    static var dataFiles: [CorpusCase] {
        var c: [CorpusCase] = []
        for (name, files, mentions) in corruptions {
            let data = Dictionary(uniqueKeysWithValues: files.map { ("d/" + $0.key, Data($0.value)) })
            c.append(command(["run", "$CONFIG/smoke.json", "--quiet", "--set", "rounds=1", "--set", "output=$DIR/o",
                              "--set", "dataset.path=$DIR/d"], files: data, status: 1, mentions: mentions,
                             name: "run on data: \(name)"))
            c.append(command(["train", "--data", "$DIR/d", "--epochs", "1", "--model", "mlp", "--output", "$DIR/o"],
                             files: data, status: 1, mentions: mentions, name: "train on data: \(name)"))
        }
        c += [
            command(["run", "$CONFIG/smoke.json", "--set", "dataset.path=$DIR/none", "--set", "output=$DIR/o"],
                    status: 1, mentions: ["none"], name: "run on a missing data folder"),
            command(["train", "--data", "$DIR/d", "--output", "$DIR/o", "--dataset", "cifar10"],
                    files: ["d/x": Data("x")], status: 1, mentions: ["data_batch_1.bin"],
                    name: "train cifar10 on a folder without batches"),
        ]
        return c
    }

    static var plot: [CorpusCase] {
        func p(_ csv: String, _ mentions: [String], args: [String] = [], name: String) -> CorpusCase {
            command(["plot", "$DIR/a.csv", "--output", "$DIR/a.svg"] + args, files: ["a.csv": Data(csv)],
                    mentions: mentions, name: "plot: " + name)
        }
        let ok = "round,test_accuracy\n1,0.5\n2,0.7\n"
        return [
            p("", ["a.csv", "empty"], name: "empty file"),
            p("\n\n", ["a.csv", "empty"], name: "blank lines"),
            p("round,test_accuracy\n", ["a.csv", "test_accuracy", "nothing to plot"], name: "header only"),
            p("round,test_accuracy\n1,,\n", ["a.csv", "line 2"], name: "ragged row"),
            p("round,test_accuracy\n1\n", ["a.csv", "line 2"], name: "short row"),
            p("round,test_accuracy\n1,abc\n", ["a.csv", "line 2", "abc"], name: "not a number"),
            p("round,test_accuracy\n1,nan\n", ["a.csv", "line 2", "nan", "finite"], name: "NaN"),
            p("round,test_accuracy\n1,inf\n", ["a.csv", "line 2", "finite"], name: "inf"),
            p("round,test_accuracy\n1,-inf\n", ["a.csv", "line 2", "finite"], name: "-inf"),
            p("round,test_accuracy\n1,1e400\n", ["a.csv", "line 2", "finite"], name: "1e400 overflows"),
            p("round,test_accuracy\nx,0.5\n", ["a.csv", "line 2", "'round'"], name: "x not a number"),
            p("round,test_accuracy\r\n1,0.5\r\n", ["a.csv", "(columns: round, test_accuracy)"], args: ["--column", "loss"],
              name: "CRLF, unknown column"),
            p(ok, ["a.csv", "'epoch'"], args: ["--x", "epoch"], name: "unknown x column"),
            p("round,round\n1,2\n", ["a.csv", "'round'", "twice"], name: "duplicate column"),
            p(ok, ["--target"], args: ["--target", "nan"], name: "target nan"),
            p(ok, ["--y-min", "--y-max"], args: ["--y-min", "1", "--y-max", "0"], name: "y-min above y-max"),
            p(ok, ["--y-min"], args: ["--y-min", "abc"], name: "y-min not a number"),
            p(ok, ["--name"], args: ["--name", "a", "--name", "b"], name: "two names for one source"),
            p(ok, ["--frob"], args: ["--frob"], name: "unknown option"),
            command(["plot", "$DIR/a.csv", "--output", "$DIR/a.csv"], files: ["a.csv": Data(ok)],
                    mentions: ["--output", "a.csv", "input"], name: "plot: output is the input"),
            command(["plot", "$DIR/r", "--output", "$DIR/r/rounds.csv"], files: ["r/rounds.csv": Data(ok)],
                    mentions: ["--output", "rounds.csv", "input"], name: "plot: output is a folder source's CSV"),
            command(["plot", "$DIR/a.csv", "--output", "$DIR"], files: ["a.csv": Data(ok)],
                    mentions: ["--output", "is a folder"], name: "plot: output is a folder"),
            command(["plot", "$DIR/a.csv", "--output", "$DIR/a.csv/x.svg"], files: ["a.csv": Data(ok)],
                    mentions: ["--output", "a.csv"], name: "plot: output parent is a file"),
            command(["plot", "$DIR/a.csv"], files: ["a.csv": Data(ok)], mentions: ["--output"],
                    name: "plot: no output"),
            command(["plot", "--output", "$DIR/a.svg"], mentions: ["CSV file"], name: "plot: no source"),
            command(["plot", "$DIR/none.csv", "--output", "$DIR/a.svg"], mentions: ["none.csv", "no such file"]),
            command(["plot", "$DIR/r", "--output", "$DIR/a.svg"], files: ["r/x.txt": Data("x")],
                    mentions: ["rounds.csv or epochs.csv"], name: "plot: folder without results"),
            command(["plot", "/dev/zero", "--output", "$DIR/a.svg"], mentions: ["/dev/zero", "regular file"]),
            command(["plot", "$DIR/a.csv", "--output", "$DIR/a.svg"], files: ["a.csv": Data([0x72, 0xFF, 0xFE, 0x0A])],
                    mentions: ["a.csv", "UTF-8"], name: "plot: binary file"),
            command(["plot", "$DIR/a.csv", "$DIR/b.csv", "--output", "$DIR/a.svg"],
                    files: ["a.csv": Data(ok), "b.csv": Data("epoch,test_accuracy\n1,0.5\n")],
                    mentions: ["b.csv", "x column"], name: "plot: mixed x columns"),
            command(["plot", "$DIR/a.csv", "$DIR/b.csv", "--output", "$DIR/a.svg"],
                    files: ["a.csv": Data(ok), "b.csv": Data("round,loss\n1,0.5\n")],
                    mentions: ["b.csv", "test_accuracy"], name: "plot: column missing in the second source"),
        ]
    }

    /// Inputs that pass validation and must train, then fail with status 1 and a message naming where.
    static var running: [CorpusCase] {
        let smoke = ["run", "$CONFIG/smoke.json", "--quiet", "--set", "rounds=1", "--set", "output=$DIR/o"]
        return [
            command(smoke + ["--set", "training.learningRate=999"], status: 1,
                    mentions: ["diverged", "round 1", "--allow-divergence", "training.learningRate"],
                    name: "run diverges (η = 999)"),
            command(["train", "--lr", "1000", "--epochs", "3", "--model", "mlp", "--train-limit", "100",
                     "--test-limit", "50", "--output", "$DIR/o"], status: 1,
                    mentions: ["diverged at epoch", "--allow-divergence"], name: "train diverges (lr 1000)"),
            command(["sweep", "$CONFIG/smoke.json", "--quiet", "--tau2", "0", "--set", "rounds=1",
                     "--set", "training.learningRate=999", "--set", "output=$DIR/s"], status: 1,
                    mentions: ["diverged", "round 1"], name: "sweep run diverges"),
            command(smoke + ["--set", "model=cnn", "--set", "dataset.path=$DIR/d"],
                    files: Dictionary(uniqueKeysWithValues: mnistFilesOfSize(side: 4).map { ("d/" + $0.key, Data($0.value)) }),
                    status: 1, mentions: ["train-images-idx3-ubyte", "byte 8", "4×4"], name: "run on 4×4 MNIST images"),
        ]
    }

    static func mnistFilesOfSize(side: Int) -> [String: [UInt8]] {
        var f = mnistFiles()
        f["train-images-idx3-ubyte"] = DataFixtures.idxImages(count: 20, height: side, width: side)
        f["t10k-images-idx3-ubyte"] = DataFixtures.idxImages(count: 10, height: side, width: side)
        return f
    }

    /// Every case of the corpus.
    static var all: [CorpusCase] {
        runValues + runKeys + runFiles + runFlags + sweep + privacy + train + bench + topLevel + dataFiles + plot
            + sockets + mpiCheck
            + running
    }
}
