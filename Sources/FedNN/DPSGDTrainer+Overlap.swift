// DPSGDTrainer+Overlap: a step's noise drawn on a second thread while the first computes the clipped gradient.
import FedTensor
import Synchronization

/// With plain SGD the step is w ← w − s·Σ_i clip(g_i), then w ← fma(a, z, w) with a = −s·σC (DPSGDTrainer.swift).
/// The standard normals z do not depend on the gradient, so on two threads one can draw them (in blocks of 4,096
/// coordinates, `fillStandardNormal`) while the other runs the clipped pass; the blocks drawn meanwhile are added
/// once the pass is over (`addScaledNormals`, the same fused multiply-add as `addGaussian`), and the blocks left
/// are drawn and added in one go by both threads. Every coordinate gets the same operations in the same order as
/// in the serial step, so the bits are the same whatever the thread count (DPSGDPlainStepTests checks it).
extension DPSGDTrainer {
    /// Whether a step on `batch` examples should draw its noise beside the clipped pass: two threads or more, a
    /// vector long enough to be worth a second thread (2¹⁵ trainable coordinates), and noise that costs about as
    /// much as the pass does on one thread. A Gaussian costs about 1 ns on an AVX-512 core, a pass about 1 ns per
    /// 100 FLOPs at small batches, so the test is 100·(trainable coordinates) ≥ ¾·batch·(training FLOPs per
    /// sample): MLP (199,210 parameters) at batch 10 yes, at batch 64 no; the CNN at batch 10 no (its pass uses
    /// both cores well, the noise is a fifth of it). Speed only: either way the bits are the same.
    func drawsNoiseBesidePass(batch: Int, noise: DPNoise) -> Bool {
        if let forced = noiseBesidePass { return forced }
        guard ComputeThreads.count >= 2 else { return false }
        let trainable = noise.ranges.reduce(0) { $0 + $1.count }
        guard trainable >= 1 << 15 else { return false }
        return 100 * Double(trainable) >= 0.75 * Double(batch) * network.trainingFLOPsPerSample
    }

    /// The plain-SGD step's clipped pass on one thread and its noise drawn on another, then w ← fma(a, z, w) on
    /// every trainable coordinate. Blocks of 4,096 coordinates are claimed from one counter: the second thread
    /// draws the blocks it claims into `normals` while the pass runs and adds them once the pass is over; after the
    /// pass, a claimed block is drawn and added in one go (`addGaussian`), by either thread.
    mutating func clippedPassBesideNoise(parameters: inout [Float], on data: some SampleSource, batch: [Int],
                                         workspace: Workspace, noiseStep: UInt64, fusedStep: Float,
                                         noise: DPNoise, scale a: Float) -> (lossSum: Double, correct: Int) {
        var z: [Float] = []
        swap(&z, &normals)
        defer { swap(&z, &normals) }
        let n = network.parameterCount, blockSize = 4096, blocks = (n + blockSize - 1) / blockSize
        if z.count < n { z = [Float](repeating: 0, count: n) }
        let next = Atomic<Int>(0), passDone = Atomic<Bool>(false)
        var result: (lossSum: Double, correct: Int) = (0, 0)
        var drawn: [Int] = []      // blocks the noise thread drew into z during the pass, not yet added
        drawn.reserveCapacity(blocks)
        func block(_ b: Int) -> Range<Int> { b * blockSize..<min(n, (b + 1) * blockSize) }
        z.withUnsafeMutableBufferPointer { zb in
            let zp = zb.baseAddress!
            parameters.withUnsafeMutableBufferPointer { pb in
                let w = pb.baseAddress!
                parallelFor(2, threads: 2) { worker in
                    if worker == 0 {
                        // One thread for the pass: a kernel split over two would wait for its half on the
                        // noise's core.
                        result = ComputeThreads.$taskLimit.withValue(1) {
                            clippedPass(parameters: w, count: n, on: data, batch: batch, workspace: workspace,
                                        noiseStep: noiseStep, fusedStep: fusedStep)
                        }
                        passDone.store(true, ordering: .releasing)
                    }
                    while true {
                        let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        if b >= blocks { break }
                        if worker == 1 && !passDone.load(ordering: .acquiring) {
                            noise.drawNormals(into: zp, block(b))
                            drawn.append(b)
                            continue
                        }
                        if worker == 1 {
                            for d in drawn { noise.addScaledNormals(zp, scale: a, to: w, block(d)) }
                            drawn.removeAll(keepingCapacity: true)
                        }
                        noise.addScaled(to: w, scale: a, block(b))
                    }
                }
                // The pass outlasted the noise: what the second thread drew is added now.
                for d in drawn { noise.addScaledNormals(zp, scale: a, to: w, block(d)) }
            }
        }
        return result
    }
}

extension DPNoise {
    /// z[j] ← z_j, the step's standard normal of coordinate j, for the trainable j in `block`.
    func drawNormals(into z: UnsafeMutablePointer<Float>, _ block: Range<Int>) {
        forEachTrainableSpan(in: block) { lo, n in
            fillStandardNormal(UnsafeMutableBufferPointer(start: z + lo, count: n), key: key, startIndex: UInt64(lo))
        }
    }

    /// w[j] ← fma(a, z[j], w[j]) for the trainable j in `block`.
    func addScaledNormals(_ z: UnsafePointer<Float>, scale a: Float, to w: UnsafeMutablePointer<Float>,
                          _ block: Range<Int>) {
        forEachTrainableSpan(in: block) { lo, n in FedTensor.addScaledNormals(z + lo, scale: a, to: w + lo, count: n) }
    }
}
