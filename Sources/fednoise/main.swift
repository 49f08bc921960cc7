// fednoise: the command-line entry point; all logic lives in FedCLI.
import FedCLI

await FedCommandLine.main(Array(CommandLine.arguments.dropFirst()))
