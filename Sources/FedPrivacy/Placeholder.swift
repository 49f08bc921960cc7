// FedPrivacy: differential-privacy math (placeholder until the module lands).
