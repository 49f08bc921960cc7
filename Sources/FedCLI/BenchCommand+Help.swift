// BenchCommand+Help: the `fednoise bench --help` text.
import FedNN
import FedTensor
import Foundation

extension BenchCommand {
    static let help = """
    USAGE: fednoise bench [--quick] [--json FILE] [--threads LIST]
           fednoise bench --dpsgd [--quick] [--json FILE] [--threads LIST]
           fednoise bench --layers [--model NAME] [--batch-size N] [--noise-preset P] [--threads LIST] [--json FILE]
           fednoise bench --pgd [--data DIR] [--batch-size N] [--quick] [--json FILE]
           fednoise bench --noise [--model NAME] [--batch-size N] [--steps N] [--cases LIST] [--quick]
                          [--threads LIST] [--json FILE]
           fednoise bench --broadcast [--tls | --plaintext] [--clients N] [--links L] [--megabytes M]
                          [--repeats R] [--json FILE]

    Measures, on random data of the right shapes:
      GEMM GFLOPS at 512³ and at the McMahan CNN's own shapes (batch 10 and 64),
      training throughput (forward + backward + SGD step) of the CNN and the MLP at batch 10 and 64,
      Gaussian noise generation in million samples/s,
      a parallel loop's cost (mean µs per loop of one ≈ 25 µs partition per thread, back to back) through the
      kernels' ComputePool, through DispatchQueue.concurrentPerform and on one thread (the work alone).
    The other figures are medians of timed repetitions after a warm-up, wall clock. Run on an idle machine and
    compare with a reference side by side (see ../shared/targets.md).
    Every benchmark first prints the CPU (name, vendor, family, model, caches) and this host's FMA peak, measured
    with a register-bound loop of SIMD16 fused multiply-adds (12 chains where the kernels target AVX-512, 6 where a
    SIMD16 takes two registers) on 1 thread and on each thread count; GEMM, training
    and layer figures are also printed as a percentage of that peak ("of peak") and written to the JSON
    (`fractionOfPeak`; every row names the CPU), so figures from different hosts can be compared. Training FLOPs
    count the Linear and convolution layers' multiply-adds forward and backward (activations and pooling: 0).
    The GEMM's output tiling (MC, NC, how large a B stays in L2) is chosen from this host's cache sizes and
    printed; the reduction blocks are fixed, so every host computes the same bits.

    OPTIONS:
      --quick          shorter repetitions (noisier figures)
      --layers         instead: time each layer's forward and backward pass of --model (default cnn)
                       at --batch-size (1…65536, default 10) at each thread count, training with plain SGD
                       as clients do (the update is fused into the Linear layers' backward pass); with
                       --noise-preset P (M1–M5, keras, author) the preset's input and activation noise layers
                       are in the model and timed as layers of their own (its other sites are not layers);
                       a ReLU fused into the convolution before it or the max pool after it (also across an
                       additive noise layer between them, whose backward is then the pool's too) is timed there,
                       and a max pool fused into the convolution two layers before it (forward, and backward
                       where that convolution needs no input gradient) in that convolution's row
      --dpsgd          instead: DP-SGD samples/s (ghost-norm clipping, noise σ = 1, C = 1, every example sampled
                       once per step at fixed batch, as opacus_reference.py train) next to plain SGD at the same batch,
                       CNN and MLP at batch 10 and 64 (default threads: 2)
      --pgd            instead: seconds of one clean evaluation pass and of PGD-10 (L∞, ε = 0.1, α = ε/4, random
                       start) of the McMahan CNN over the 10,000 MNIST test images of --data DIR (without it:
                       10,000 random images), and their ratio; --batch-size (default 100), median of 3 (--quick: 1)
      --noise          instead: ms per training step of --model (default cnn) at --batch-size (default 64) with
                       no noise, each preset M1–M5 and author, and one mechanism for each other site and law
                       (salt-and-pepper, speckle, uniform, multiplicative, Laplace activations, client update,
                       global model), and each one's overhead against no noise. An epoch is --steps steps
                       (1…10000, default 20: one paradox-grid client's local epoch) of the trainer on random
                       data, then the per-epoch client-side noise and the global-model noise, so those sites are
                       amortised over --steps.
                       Each timed epoch of a case follows an epoch without noise; a case's overhead is the median
                       of those paired ratios, its ms/step the median of its epochs; 7 pairs (--quick: 3). Longer
                       epochs (e.g. --steps 50) scatter less. --cases M2,laplace times only the cases whose
                       names contain one of the comma-separated texts (any letter case), against none
      --broadcast      instead: a hub and --links L (1…64, default 2) links in this process over loopback, hosting
                       --clients N (1…256, default 30) clients split as `run --processes L` splits them; the hub
                       broadcasts a round start of --megabytes M (default: the McMahan CNN, 6.65 MB) to all of
                       them, as the parameter server does (encoded once, every link written at once), --repeats R
                       times (1…100, default 5; new weights each time) after one untimed broadcast; every client's
                       bits of the first and the last broadcast are checked; prints
                       each repeat's aggregate GB/s (N × message bytes / wall time until every mailbox holds it),
                       the median, the TLS cipher suite and the load average; N × M at most 4000 MB.
                       --tls (default): TLS 1.3 with mutual authentication under a throwaway CA;
                       --plaintext: plain TCP. JSON default runs/bench-broadcast.json
      --threads LIST   thread counts to measure, comma-separated, each 1…1024 (default "1,2" capped at the
                       core count; with --layers, --pgd and --noise: the current count; with --dpsgd: 2)
      --json FILE      where to write the results (default runs/bench.json; with --pgd: runs/bench-pgd.json; with --noise:
                       runs/bench-noise.json; with --layers: no
                       file unless given)
      -h, --help       show this help
    """
}
