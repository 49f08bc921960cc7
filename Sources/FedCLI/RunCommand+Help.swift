// RunCommand+Help: the `fednoise run --help` text.
import FedData
import FedNN
import FedRuntime
import FedStrategy
import FedTensor
import Foundation

extension RunCommand {
    static let help = """
    USAGE: fednoise run <config.json> [--set key.path=value …] [--threads N] [--quiet] [--allow-divergence]
                        [--processes N [--tls DIR | --insecure] | --transport in-process |
                         --transport mpi [--rank-timeout S]]
           fednoise run --resume DIR [<config.json> [--set …]] [--threads N] [--quiet] [--allow-divergence]

    Runs a federation (FedAvg, DP-FedAvg or NISS; the parameter server, tracker and every client are actors talking
    through an in-process transport) and writes rounds.csv, summary.json and rounds.svg into the config's output,
    and groups.csv (the final global model's per-class test accuracy and loss); with noiseInfusion also snr.csv (per
    evaluated round, at every active site: σ, the clean tensor's RMS and the SNR in power and amplitude, linear and
    dB).

    The config holds: name, seed, rounds, clients {count, fraction, sampling (fixed|poisson),
    partition (iid|shards|dirichlet),
    shardsPerClient, dirichletAlpha}, model (cnn|mlp|logistic|small-cnn|large-cnn…), initialization (uniform|he|glorot),
    dataset {kind, path, trainLimit, testLimit, minorityClass, minorityFraction (keep that share of the class's
    training examples across all clients)}, training {localEpochs, batchSize, learningRate, momentum,
    dpsgd {noiseMultiplier | targetEpsilon, maxGradNorm, delta, expectedBatchSize | samplingRate}},
    strategy {kind (fedAvg|dpFedAvg|niss), dp {clipTarget (update|parameters), clippingThreshold, epsilon, delta,
    sensitivity (clientLevel|clientLevelReplace|nbafl), composition (rdp|nbaflLinear), clientBudgets,
    calibration (classical|analytic), totalEpsilon, budgetPolicy (stop|excludeClients),
    noiseScale (a factor on every σ_k, default 1)},
    niss {tau2, clientTau2, targetShares, minimumShares, unitNoiseVariance, encoding (seeded|dense),
    collusionFraction, dropout (redo|accept)}}, evaluateEvery, accuracyTargets (rounds-to-target in summary.json),
    deadlineSeconds, diagnostics, checkpointEvery, continueAfterDivergence, output, noiseInfusion {preset
    (M1…M5|keras|author), level, mechanisms [{site, distribution, level, levelMode, afterLayers, depthLevels,
    schedule, decay, trainOnly}]} (heuristic noise infusion, no ε; README "The paradox of noise"), batchNorm
    (average | local: FedBN, each client keeps its BatchNorm coordinates; large-cnn only; not resumable).
    Missing keys keep their defaults; see config/*.json.

    rounds.csv gains a row as each round completes. Every checkpointEvery rounds (default 1; 0: never) the full
    state goes to checkpoint.fnck (atomically). SIGINT or SIGTERM finishes the current round, writes the results
    (summary.json says "interrupted") and a checkpoint, and exits with 130 (SIGINT) or 143; a second one aborts.
    A fresh run first removes an older run's rounds.csv, summary.json, rounds.svg and checkpoint.fnck from output.

    OPTIONS:
      --set key.path=value   override one key, e.g. --set rounds=5 --set strategy.dp.epsilon=4
      --threads N            compute threads (default: all cores)
      --quiet                no per-round lines
      --allow-divergence     finish and exit 0 even when a loss or the model becomes NaN or infinite (as the
                             key continueAfterDivergence; default: the run stops at that round with status 1)
      --processes N          run across N local processes (2…64) over loopback TCP: this one hosts the parameter
                             server and the tracker, N − 1 children (fednoise join) host contiguous ranges of
                             clients and share the compute threads; bit-identical to the in-process run.
                             On 127.0.0.1 only, over TLS 1.3 with mutual authentication: a throwaway CA and
                             certificates are made in a private temporary folder and removed after the run
      --tls DIR              with --processes: use the certificates fednoise certs --nodes N−1 wrote in DIR
      --insecure             with --processes: plaintext TCP instead of TLS
      --transport in-process the default: every actor in this process
      --transport mpi        under mpirun -np N (or srun -n N), N ≥ 2: rank 0 runs the parameter server and the
                             tracker and writes the results, ranks 1…N−1 host contiguous ranges of clients; every
                             message crosses MPI. Needs a build with --traits MPI; give mpirun --bind-to none
                             so each rank's training threads get its node's cores (see README, "MPI")
      --rank-timeout S       with --transport mpi: ranks exchange a heartbeat every second; one not heard from for
                             S seconds (2…86400, default 60) is named, with the round, and every rank is ended
                             (for launchers such as srun that let a job run on after one of its processes died)
      --resume DIR           continue the run whose checkpoint.fnck is in DIR, to results bit-identical to an
                             uninterrupted run; with a config file (and --set), it must be the same configuration
                             (output, checkpointEvery and continueAfterDivergence may differ)
      -h, --help             show this help

    Privacy is accounted per client after every round (rounds.csv epsilon_worst_client / epsilon_worst_example,
    clients_privacy.csv); client-level and example-level (DP-SGD) guarantees are reported side by side.
    Values that would exhaust memory or time are bounded (e.g. training.batchSize ≤ 65536, NISS v_k ≤ 10000,
    deadlineSeconds ≤ 1e6); the output folder is checked before training starts.
    """
}
