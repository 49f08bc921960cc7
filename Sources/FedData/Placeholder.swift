import FedTensor
