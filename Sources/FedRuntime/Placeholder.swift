// FedRuntime: placeholder.
