// SocketCorpus: bad flags of serve, join and run --processes; plaintext is refused without --insecure.
extension CorpusCase {
    static var sockets: [CorpusCase] {
        let smoke = "$CONFIG/smoke.json"
        return [
            command(["serve", smoke, "--listen", "127.0.0.1:0"], mentions: ["--insecure is required", "TLS"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "0..4"], mentions: ["--insecure is required"]),
            command(["serve", smoke, "--insecure"], mentions: ["--listen HOST:PORT is required"]),
            command(["serve", smoke, "--listen", "localhost", "--insecure"], mentions: ["--listen must be HOST:PORT"]),
            command(["serve", smoke, "--listen", "127.0.0.1:70000", "--insecure"], mentions: ["--listen", "0…65535"]),
            command(["serve", "--listen", "127.0.0.1:0", "--insecure"], mentions: ["config file"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "3..12", "--insecure"],
                    mentions: ["--clients 3..12", "0..9"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "4..2", "--insecure"],
                    mentions: ["--clients must be A..B"]),
            command(["join", smoke, "--connect", "127.0.0.1:1", "--insecure"], mentions: ["--clients A..B is required"]),
            command(["run", smoke, "--processes", "1"], mentions: ["--processes", "2…64"]),
            // Nobody listens on the port: join gives up after --retry-seconds and names the address.
            command(["join", smoke, "--connect", "127.0.0.1:1", "--clients", "0..4", "--insecure", "--retry-seconds", "0"],
                    status: 1, mentions: ["127.0.0.1:1"]),
        ]
    }
}
