// MPICheckCommandTests: `fednoise mpi-check` refuses bad bounds, and without the MPI trait says how to get it.
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
    /// A build without the trait cannot check anything: a usage error naming the build command, not a crash.
    @Test func withoutTheTraitItExplainsHowToBuildIt() async {
        #expect(await FedCommandLine.run(["mpi-check"]) == 2)
    }
    #endif
}
