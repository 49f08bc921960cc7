// TrainCommand+Help: the `fednoise train --help` text.
import FedData
import FedNN
import FedTensor
import Foundation

extension TrainCommand {
    static let help = """
    USAGE: fednoise train [--config FILE] [options]

    Trains one model centrally and evaluates it on the test set after every epoch.
    Writes epochs.csv, summary.json and curves.svg into --output.

    OPTIONS (each overrides the same key of --config):
      --config FILE        JSON file with any of the keys below (see config/train-*.json)
      --model NAME         cnn | mlp | logistic | tanh-cnn | lenet | small-cnn | large-cnn  (default cnn)
      --init NAME          uniform (PyTorch's U(±1/√fan_in)) | he (N(0, 2/fan_in)) | glorot  (default uniform)
      --dataset NAME       mnist | fashion-mnist | cifar10               (default mnist)
      --data DIR           dataset directory (default: the embedded 2,000/500 MNIST subset)
      --epochs N           (default 3)
      --batch-size N       (default 64)
      --lr X               learning rate (default 0.05)
      --momentum X         SGD momentum in [0, 1) (default 0.9)
      --weight-decay X     (default 0)
      --lr-decay X         multiply the learning rate by X after every epoch, in (0, 1] (default 1)
      --seed N             initialisation and shuffling seed (default 1)
      --train-limit N      use the first N training samples
      --test-limit N       use the first N test samples
      --threads N          compute threads (default: all cores)
    \(dpHelp)
    \(noiseHelp)
    \(weightsHelp + "\n" + groupsHelp)
    \(mitigationsHelp)
      --output DIR         result folder (default runs/train; checked before training starts)
      --allow-divergence   keep training after a NaN or infinite loss or weight (default: stop at that epoch
                           with status 1 and a message naming it; the epochs so far are written)
      -h, --help           show this help
    """
}
