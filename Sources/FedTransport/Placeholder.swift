// FedTransport: message transport (placeholder until the module lands).
