// TrainCommand+Results: what `fednoise train` writes: epochs.csv, summary.json and curves.svg.
import FedData
import FedNN
import FedTensor
import Foundation

extension TrainCommand {
    /// Writes epochs.csv (with SNR columns under noise infusion and ε under DP-SGD), summary.json and curves.svg.
    static func writeResults(config: TrainConfiguration, records: [EpochRecord], seconds: Double,
                             parameters: Int, privacy: DPReport? = nil) throws {
        let dir = URL(fileURLWithPath: config.output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let dp = privacy != nil
        let snr = records.first?.snr ?? []
        var csv = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,samples_per_second"
            + NoiseSiteSNR.header(snr.map(\.label)) + (dp ? ",epsilon\n" : "\n")
        for r in records {
            csv += "\(r.epoch),\(r.trainLoss),\(r.trainAccuracy),\(r.testLoss),\(r.testAccuracy),"
            csv += "\(fixed(r.seconds, 3)),\(fixed(r.samplesPerSecond, 1))" + NoiseSiteSNR.row(r.snr ?? [])
            csv += dp ? ",\(r.epsilon ?? .nan)\n" : "\n"
        }
        try csv.write(to: dir.appendingPathComponent("epochs.csv"), atomically: true, encoding: .utf8)
        struct Summary: Encodable {
            var configuration: TrainConfiguration
            var parameterCount: Int
            var threads: Int
            var seconds: Double
            var finalTestAccuracy: Double
            var privacy: DPReport?
            var epochs: [EpochRecord]
        }
        let summary = Summary(configuration: config, parameterCount: parameters, threads: ComputeThreads.count,
                              seconds: seconds, finalTestAccuracy: records.last?.testAccuracy ?? .nan,
                              privacy: privacy, epochs: records)
        let encoder = resultEncoder()
        try encoder.encode(summary).write(to: dir.appendingPathComponent("summary.json"), options: .atomic)
        let plot = LinePlot(
            title: "\(config.model.rawValue) on \(config.dataset.rawValue): accuracy per epoch", xLabel: "epoch",
            yLabel: "accuracy",
            series: [
                PlotSeries(name: "train", points: records.map { (Double($0.epoch), $0.trainAccuracy) }),
                PlotSeries(name: "test", points: records.map { (Double($0.epoch), $0.testAccuracy) }),
            ])
        try plot.render().write(to: dir.appendingPathComponent("curves.svg"), atomically: true, encoding: .utf8)
    }
}
