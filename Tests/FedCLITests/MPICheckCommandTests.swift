// MPICheckCommandTests: `fednoise mpi-check` refuses bad bounds, and without the MPI trait is a usage error.
import FedCLI
import Testing

@Suite struct MPICheckCommandTests {
    @Test func boundsAreUsageErrors() async {
        #expect(await FedCommandLine.run(["mpi-check", "--messages", "0"]) == 2)
        #expect(await FedCommandLine.run(["mpi-check", "--megabytes", "5000"]) == 2)
        #expect(await FedCommandLine.run(["mpi-check", "--repeats", "1001"]) == 2)
        #expect(await FedCommandLine.run(["mpi-check", "--bogus"]) == 2)
        #expect(await FedCommandLine.run(["mpi-check", "--help"]) == 0)
    }

    #if !MPI
    /// A build without the trait cannot check anything: a usage error (exit 2, whose message names the build
    /// command), not a crash or a silent success.
    @Test func withoutTheTraitItExplainsHowToBuildIt() async {
        #expect(await FedCommandLine.run(["mpi-check"]) == 2)
    }
    #endif
}
