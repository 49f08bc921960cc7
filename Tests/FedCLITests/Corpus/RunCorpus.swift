// RunCorpus: bad federation configs for `fednoise run`: --set values, unknown keys, list entries, config files.
import Foundation

extension CorpusCase {
    static let dp = ["strategy.kind=dpFedAvg"]
    static let niss = ["strategy.kind=niss", "deadlineSeconds=30"]

    /// Wrong types and out-of-range values of every key, through `--set`.
    static var runValues: [CorpusCase] {
        var c: [CorpusCase] = []
        c += value("rounds", ["0", "-1", "2.5", "many", "true", "1000001", "1e19", "[1]", #"{"a":1}"#, "\"3\""])
        c += value("seed", ["-1", "2.5", "18446744073709551616", "1e30", "x", "false"])
        c += value("clients.count", ["0", "-5", "100001", "1.5", "ten"])
        c += value("clients.fraction", ["0", "-0.1", "1.5", "half", "true"])
        c += value("clients.partition", ["noniid", "3"])
        c += value("clients.shardsPerClient", ["0", "10001"])
        c += value("clients.dirichletAlpha", ["0", "-1", "1e7"])
        c += value("model", ["resnet", "1", "null"])
        c += value("initialization", ["xavier"])
        c += value("dataset.kind", ["imagenet", "cifar10", "fashion-mnist"])
        c += value("dataset.path", ["\"\"", "5"])
        c += value("dataset.trainLimit", ["0", "-1", "1.5"])
        c += value("dataset.testLimit", ["0", "-3"])
        c += value("training.localEpochs", ["0", "10001", "1e3x"])
        c += value("training.batchSize", ["0", "-1", "65537", "100000000", "2000000000000000000", "2.5"])
        c += value("training.learningRate", ["0", "-0.1", "1e30", "1001", "fast"])
        c += value("training.momentum", ["1", "-0.1", "1.5"])
        c += value("evaluateEvery", ["0", "-2"])
        c += value("accuracyTargets", ["[0.9, 99]", "[0]", "0.9", "[true]", #"["a"]"#])
        c += value("deadlineSeconds", ["0", "-1", "1e19", "1e7", "soon"])
        c += value("diagnostics", ["yes", "1"])
        c += value("output", ["\"\"", "5", "\" \""])
        c += value("strategy.kind", ["secure", "0"])
        c += value("strategy.dp.clippingThreshold", ["0", "-1", "1e300", "1e7"], after: dp)
        c += value("strategy.dp.epsilon", ["0", "-1", "1e-300", "1e-4", "1e13", "1e300", "\"ten\""], after: dp)
        c += value("strategy.dp.delta", ["0", "1", "2", "-1"], after: dp)
        c += value("strategy.dp.sensitivity", ["foo"], after: dp)
        c += value("strategy.dp.composition", ["bar"], after: dp)
        c += value("strategy.dp.clipTarget", ["weights"], after: dp)
        c += value("strategy.niss.tau2", ["-1", "1e300", "1e7"], after: niss)
        c += value("strategy.niss.targetShares", ["2000000000000000000", "1000000000", "1000000", "10001", "4"],
                   after: niss)
        c += value("strategy.niss.minimumShares", ["0", "10001"], after: niss)
        c += value("strategy.niss.unitNoiseVariance", ["0", "-1", "1e-300", "1e-12"], after: niss)
        c += value("strategy.niss.collusionFraction", ["-0.1", "1.5"], after: niss)
        c += value("strategy.niss.encoding", ["zip"], after: niss)
        c += value("strategy.niss.dropout", ["retry"], after: niss)
        c += value("clients.sampling", ["bernoulli", "1"])
        c += value("strategy.dp.calibration", ["exact"], after: dp)
        c += value("strategy.dp.totalEpsilon", ["0", "-1", "1e13", "\"all\""], after: dp)
        c += value("strategy.dp.budgetPolicy", ["pause"], after: dp)
        c += value("training.dpsgd.noiseMultiplier", ["-1", "1e7", "loud"])
        c += value("training.dpsgd.targetEpsilon", ["0", "1e13"])
        c += value("training.dpsgd.maxGradNorm", ["0", "-1", "1e7"], after: ["training.dpsgd.noiseMultiplier=1"])
        c += value("training.dpsgd.delta", ["0", "1"], after: ["training.dpsgd.noiseMultiplier=1"])
        c += value("training.dpsgd.expectedBatchSize", ["0", "-5", "1e9"], after: ["training.dpsgd.noiseMultiplier=1"])
        c += value("training.dpsgd.samplingRate", ["0", "1.5"], after: ["training.dpsgd.noiseMultiplier=1"])
        return c
    }

    /// Unknown keys (typos) anywhere, including inside list entries, and malformed `--set` forms.
    static var runKeys: [CorpusCase] {
        var c: [CorpusCase] = []
        for (key, named) in [("roundz", "roundz"), ("clients.cnt", "clients.cnt"), ("training.lr", "training.lr"),
                             ("strategy.dp.eps", "strategy.dp.eps"), ("strategy.niss.tau", "strategy.niss.tau"),
                             ("dataset.dir", "dataset.dir"), ("a.b.c", "a"), ("clients.fraction.x", "clients.fraction"),
                             ("Rounds", "Rounds")] {
            c.append(run(["\(key)=1"], mentions: ["--set \(key)=1", "'\(named)'"]))
        }
        let budget = #"{"from":0,"to":1,"epsilon":1,"delta":1e-5"#
        let tau = #"{"from":0,"to":1,"tau2":0.5"#
        c += [
            run(dp + ["strategy.dp.clientBudgets=[\(budget),\"eps\":2}]"], mentions: ["clientBudgets[0].eps"]),
            run(dp + ["strategy.dp.clientBudgets=[\(budget)}, \(budget),\"x\":1}]"],
                mentions: ["clientBudgets[1].x"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":0,"to":1,"epsilon":1}]"#],
                mentions: ["clientBudgets[0].delta"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":"a","to":1,"epsilon":1,"delta":0.1}]"#],
                mentions: ["clientBudgets[0].from"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":0,"to":10,"epsilon":1,"delta":0.1}]"#],
                mentions: ["clientBudgets[0].from/.to"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":5,"to":2,"epsilon":1,"delta":0.1}]"#],
                mentions: ["clientBudgets[0].from/.to"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":0,"to":3,"epsilon":1,"delta":0.1},{"from":3,"to":4,"epsilon":2,"delta":0.1}]"#],
                mentions: ["clientBudgets[1].from/.to", "overlap"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":0,"to":3,"epsilon":0,"delta":0.1}]"#],
                mentions: ["clientBudgets[0].epsilon"]),
            run(dp + [#"strategy.dp.clientBudgets=[{"from":0,"to":3,"epsilon":1,"delta":1}]"#],
                mentions: ["clientBudgets[0].delta"]),
            run(dp + ["strategy.dp.clientBudgets=3"], mentions: ["strategy.dp.clientBudgets", "list"]),
            run(dp + ["strategy.dp.clientBudgets=[3]"], mentions: ["strategy.dp.clientBudgets[0]", "object"]),
            run(niss + ["strategy.niss.clientTau2=[\(tau),\"tau\":1}]"], mentions: ["clientTau2[0].tau"]),
            run(niss + ["strategy.niss.clientTau2=[\(tau)}, {\"from\":1,\"to\":2,\"tau2\":0.1}]"],
                mentions: ["clientTau2[1].from/.to", "overlap"]),
            run(niss + [#"strategy.niss.clientTau2=[{"from":0,"to":12,"tau2":0.5}]"#], mentions: ["clientTau2[0]"]),
            run(niss + [#"strategy.niss.clientTau2=[{"from":0,"to":2,"tau2":-1}]"#],
                mentions: ["clientTau2[0].tau2"]),
            run(niss + [#"strategy.niss.clientTau2=[{"from":0,"to":2,"tau2":1e300}]"#],
                mentions: ["clientTau2[0].tau2"]),
            run(niss + [#"strategy.niss.clientTau2=[{"from":0,"to":2}]"#], mentions: ["clientTau2[0].tau2"]),
            run(niss + ["clients.fraction=0.1"], mentions: ["clients.fraction", "at least 2"]),
            run(niss + ["strategy.niss.collusionFraction=0.5", "diagnostics=false"], mentions: ["diagnostics"]),
            run(["dataset.trainLimit=1"], mentions: ["--set clients.count", "clients.count", "dataset.trainLimit = 1"],
                name: "run with fewer samples than clients").with(arguments: ["--set", "clients.count=10"]),
            run(["clients.count=100000"], mentions: ["--set clients.count=100000", "600 samples"]),
            run(["clients.partition=shards", "clients.shardsPerClient=10000"],
                mentions: ["--set clients.shardsPerClient=10000", "clients.shardsPerClient"]),
            run(["model"], mentions: ["--set", "key.path=value"], name: "run --set without ="),
            run(["=cnn"], mentions: ["--set", "key.path=value"], name: "run --set with empty key"),
            run(["rounds="], mentions: ["rounds", "whole number"], name: "run --set rounds= (empty)"),
            run(["clients=5"], mentions: ["clients", "object"]),
            run(["rounds.x=1"], mentions: ["rounds"]),
            run(["strategy.dp=3"], mentions: ["strategy.dp", "object"]),
        ]
        return c
    }

    /// Config files that are not JSON objects, or hold bad values (blamed on the file, with the byte offset).
    static var runFiles: [CorpusCase] {
        func file(_ text: String, _ mentions: [String], name: String) -> CorpusCase {
            command(["run", "$DIR/c.json", "--set", "output=$DIR/out"], files: ["c.json": Data(text)],
                    mentions: ["c.json"] + mentions, name: "run config file: " + name)
        }
        return [
            file(#"{"rounds": 3,"#, ["not valid JSON", "byte 13"], name: "truncated"),
            file(#"{"rounds": 3 // comment"#, ["character 13"], name: "comment"),
            file(#"{"rounds": NaN}"#, ["not valid JSON", "character"], name: "NaN literal"),
            file(#"{"rounds": 1e999}"#, ["not valid JSON"], name: "1e999"),
            file("", ["not valid JSON"], name: "empty file"),
            file("[1, 2]", ["top level must be an object"], name: "top-level list"),
            file("\"run\"", ["not valid JSON"], name: "top-level string"),
            file(String(repeating: "[", count: 5000), ["not valid JSON"], name: "deep nesting"),
            file(#"{"rounds": 2.5}"#, ["key 'rounds'", "whole number"], name: "rounds 2.5"),
            file(#"{"seed": -1}"#, ["key 'seed'"], name: "seed -1"),
            file(#"{"seed": 18446744073709551616}"#, ["key 'seed'"], name: "seed 2^64"),
            file(#"{"roundz": 3}"#, ["unknown key 'roundz'"], name: "unknown key"),
            file(#"{"clients": {"count": 10, "fractoin": 0.5}}"#, ["clients.fractoin"], name: "nested typo"),
            file(#"{"strategy": {"kind": "dpFedAvg", "dp": {"clientBudgets": [{"from": 0, "to": 1, "epsilon": 1, "delta": 0.1, "extra": 1}]}}}"#,
                 ["clientBudgets[0].extra"], name: "unknown key in a budget"),
            file(#"{"clients": 10}"#, ["key 'clients'", "object"], name: "clients not an object"),
            file(#"{"training": {"batchSize": 1e300}}"#, ["training.batchSize"], name: "batch 1e300"),
            file(#"{"deadlineSeconds": 1e19}"#, ["deadlineSeconds"], name: "deadline 1e19"),
            command(["run", "$DIR/none.json"], mentions: ["none.json", "no such file"], name: "run missing file"),
            command(["run", "$DIR"], mentions: ["cannot read"], name: "run a folder as config"),
            command(["run", "$DIR/c.json"], files: ["c.json": Data([0xFF, 0xFE, 0x00, 0x7B])],
                    mentions: ["c.json", "not valid JSON"], name: "run binary config"),
        ]
    }

    /// Flags of `fednoise run`, and output places that cannot hold the results (checked before training).
    static var runFlags: [CorpusCase] {
        let smoke = "$CONFIG/smoke.json"
        return [
            command(["run"], mentions: ["config file"]),
            command(["run", smoke, smoke], mentions: ["unexpected argument"]),
            command(["run", smoke, "--threads", "0"], mentions: ["--threads"]),
            command(["run", smoke, "--threads", "2000"], mentions: ["--threads"]),
            command(["run", smoke, "--threads", "abc"], mentions: ["--threads"]),
            command(["run", smoke, "--quiet=maybe"], mentions: ["--quiet"]),
            command(["run", smoke, "--allow-divergence=1"], mentions: ["--allow-divergence"]),
            command(["run", smoke, "--frob"], mentions: ["--frob"]),
            command(["run", smoke, "-x"], mentions: ["-x"]),
            command(["run", smoke, "--set"], mentions: ["--set needs a value"]),
            command(["run", smoke, "--set", "--quiet"], mentions: ["--set needs a value"]),
            run(["output=$DIR/file"], mentions: ["output", "is a file"], name: "run output is a file")
                .with(files: ["file": Data("x")]),
            run(["output=$DIR/file/sub"], mentions: ["output", "is a file, not a folder"],
                name: "run output parent is a file").with(files: ["file": Data("x")]),
            run(["output=$DIR/" + String(repeating: "n", count: 300)], mentions: ["output", "255"],
                name: "run output name too long"),
            // Not writable even for root: procfs refuses new folders.
            run(["output=/proc/fednoise-corpus/out"], mentions: ["output", "cannot create"],
                name: "run output where no folder can be made"),
        ]
    }

    func with(arguments more: [String]) -> CorpusCase {
        var c = self
        c.arguments += more
        return c
    }

    func with(files more: [String: Data]) -> CorpusCase {
        var c = self
        c.files.merge(more) { _, b in b }
        return c
    }
}
