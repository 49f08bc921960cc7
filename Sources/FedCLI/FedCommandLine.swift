// FedCommandLine: dispatches `fednoise` subcommands.
import Foundation

public enum FedCommandLine {
    public static func main(_ arguments: [String]) async {
        print("fednoise: not yet")
    }
}
